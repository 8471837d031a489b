"""The layers of docs/ARCHITECTURE.md, enforced: the core is pure, the engine knows nothing of Qt,
the GUI reaches the engine only through app.engine.api."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layer_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def with_import(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the app where `module` (a path under app/) gains `line`."""
    shutil.copytree(REPO / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "app" / module
    path.write_text(line + "\n" + path.read_text())
    return lint_imports(tmp_path)


def test_importing_qt_in_the_core_breaks_the_contract(tmp_path):
    result = with_import(tmp_path, "core/prd.py", "import PySide6")
    assert result.returncode != 0
    assert "app.core.prd -> PySide6" in result.stdout


def test_the_gui_reaching_past_the_engines_public_face_breaks_the_contract(tmp_path):
    result = with_import(tmp_path, "gui/icons.py", "from app.engine.runs import Runs")
    assert result.returncode != 0
    assert "app.gui.icons -> app.engine.runs" in result.stdout
