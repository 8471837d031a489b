"""About Overnight: its version, its home, the agent it runs against the tested versions, and Qt's version."""

from __future__ import annotations

import shutil
from html import escape

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from app import __version__
from app.core.agent import version_verdict
from app.engine.api import installed_cli_version, tested_versions
from app.gui.desktop import in_background
from app.paths import Home


def agent_line(command: str) -> tuple[bool, str]:
    """Blocking (runs `<command> --version`): whether the agent is fine to use, in words."""
    path = shutil.which(command)
    if path is None:
        return False, f"{command!r} is not on PATH — install Claude Code, or set agent.command in Settings"
    fine, verdict = version_verdict(installed_cli_version(path), tested_versions())
    return fine, f"{path}: Claude Code {verdict}"


class AboutDialog(QMessageBox):
    """Open it with `open()`; the agent line fills in once `--version` has answered (off the GUI thread)."""

    def __init__(self, home: Home, agent_command: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Overnight")
        self.setIcon(QMessageBox.Icon.Information)
        self.setText(f"<b>Overnight {escape(__version__)}</b><br>Runs PRD files as headless Claude Code sessions.")
        self._home = home
        self.agent = "checking the agent…"
        self._show()
        in_background(lambda: agent_line(agent_command), self._checked)

    def _checked(self, result: tuple[bool, str] | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            self.agent = f"the agent could not be checked ({error})"
        else:
            fine, words = result
            self.agent = words if fine else f"⚠ {words}"
        self._show()

    def _show(self) -> None:
        self.setInformativeText(f"Home: {self._home.root}\nAgent: {self.agent}\n"
                                f"Qt: {qVersion()} (PySide6 {PySide6.__version__})")
