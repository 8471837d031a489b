"""Static checks inside the test run (docs/ARCHITECTURE.md, "The layers"): ruff over the code,
the tests and the scripts; mypy over the core and the engine; vulture for code nothing calls;
modules small enough to read whole. Their settings are in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def check(tool: str, *args: str) -> None:
    result = subprocess.run([str(BIN / tool), *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{tool} found problems:\n{result.stdout}{result.stderr}"


def test_ruff_finds_nothing():
    check("ruff", "check", "--no-cache", "app", "tests", "scripts")


def test_mypy_finds_nothing_in_the_core_and_the_engine():
    check("mypy", "app/core", "app/engine")


def test_vulture_finds_no_dead_code():
    check("vulture")


def test_no_module_outgrows_what_one_reader_holds():
    """An engine module over 400 lines, or any module over 500, is a sign it does two jobs
    (docs/ARCHITECTURE.md, "The engine's parts")."""
    limits = {path: 400 if path.parent.name == "engine" else 500 for path in (REPO / "app").rglob("*.py")}
    too_long = {str(path.relative_to(REPO)): lines for path, limit in limits.items()
                if (lines := len(path.read_text().splitlines())) > limit}
    assert too_long == {}
