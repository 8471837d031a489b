"""The one-folder build (packaging/README.md): packaging/test builds dist/overnight/ when the code
changed, runs its command line, starts the app on a real X server (Xvfb), waits for the main
window and quits it with Ctrl+Q."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.timeout(600)
def test_the_built_app_answers_on_the_command_line_shows_its_window_and_quits_cleanly():
    result = subprocess.run([str(REPO / "packaging" / "test")], capture_output=True, text=True, timeout=590,
                            check=False)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "packaging/test: passed" in result.stdout
    assert "time from launch to window:" in result.stdout
    assert "(exit code 0)" in result.stdout
