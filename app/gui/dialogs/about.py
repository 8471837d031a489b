"""About Overnight: its version, its home, the agent it runs against the tested versions, and Qt's version."""

from __future__ import annotations

from html import escape

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from app import __version__
from app.doctor import agent_check
from app.gui.desktop import in_background
from app.paths import Home


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
        in_background(lambda: agent_check(agent_command), self._checked)

    def _checked(self, result: tuple[bool, str] | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            self.agent = f"the agent could not be checked ({error})"
        else:
            fine, line = result
            words = line.removeprefix("agent: ")
            self.agent = words if fine else f"⚠ {words}"
        self._show()

    def _show(self) -> None:
        self.setInformativeText(f"Home: {self._home.root}\nAgent: {self.agent}\n"
                                f"Qt: {qVersion()} (PySide6 {PySide6.__version__})")
