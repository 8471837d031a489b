"""The first-run checklist (docs/BEHAVIOUR.md section 12): is the agent there and which version,
are the credentials readable, does the usage meter answer, each ✓ or ✗ with its fix. It is
shown while any of them fails and gone once all pass.

The checks are `overnight doctor`'s own (app.doctor.setup_checks); they run the agent and ask
the meter, so they run off the GUI thread, as does writing the chosen agent into config.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from html import escape
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.config import load_config, save_config
from app.doctor import Check, setup_checks
from app.gui.desktop import in_background
from app.paths import Home


def set_agent_command(config_path: Path, command: str) -> str:
    """Blocking: config.yaml with `agent.command` set and every other setting kept, written as the
    Settings dialog writes it; returns the command. A file with problems is left as it is (it
    would lose the user's other settings): ValueError says what to fix first."""
    loaded = load_config(config_path)
    if not loaded.ok:
        raise ValueError(f"{loaded.summary()}\nFix config.yaml first (Settings), then choose claude again")
    config = loaded.config
    save_config(config_path, replace(config, agent=replace(config.agent, command=command)))
    return command


class SetupBanner(QFrame):
    """`check()` runs the checks; `message` tells the window what happened to a chosen agent."""

    message = Signal(str, bool)  # text, is an error

    def __init__(self, home: Home, environ: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._home = home
        self._environ = dict(environ)
        self.checks: list[Check] = []
        self.checking = False
        self._again = False  # asked again while checking: what changed may come after that look
        self.setObjectName("setupBanner")
        self.setStyleSheet(
            "#setupBanner { background: rgba(0, 120, 215, 36); border: 1px solid rgba(0, 120, 215, 140);"
            " border-radius: 4px; }"
        )
        self.heading = QLabel("<b>Setting up</b> — Overnight needs Claude Code, signed in", self)
        self.rows = QLabel(self)
        self.rows.setWordWrap(True)
        self.choose_button = QPushButton("Choose claude…", self)
        self.choose_button.setToolTip("Pick the claude program; its path is saved as agent.command in config.yaml")
        self.check_button = QPushButton("Check again", self)
        self.choose_button.clicked.connect(self.choose_agent)
        self.check_button.clicked.connect(self.check)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.rows)
        layout.addLayout(buttons)
        self.setVisible(False)

    def check(self) -> None:
        """Run the checks again (off the GUI thread); the banner shows their answer when it comes."""
        if self.checking:
            self._again = True
            return
        self.checking = True
        self.check_button.setEnabled(False)
        self.check_button.setText("Checking…")
        home, environ = self._home, self._environ
        in_background(lambda: setup_checks(home, environ), self._checked)

    def _checked(self, checks: list[Check] | None, error: BaseException | None) -> None:
        self.checking = False
        self.check_button.setEnabled(True)
        self.check_button.setText("Check again")
        self.checks = checks if checks is not None else [(False, f"the checks could not run: {error}")]
        rows = (f"{'✓' if fine else '✗'} {escape(line, quote=False)}" for fine, line in self.checks)
        self.rows.setText("<br>".join(rows))
        self.setVisible(not all(fine for fine, _line in self.checks))
        if self._again:
            self._again = False
            self.check()

    def choose_agent(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(self, "Choose the claude program", str(Path.home()))
        if name:
            self.use_agent(name)

    def use_agent(self, command: str) -> None:
        """Save `command` as agent.command (off the GUI thread), then check again."""
        path = self._home.config
        self.choose_button.setEnabled(False)
        in_background(lambda: set_agent_command(path, command), self._saved)

    def _saved(self, command: str | None, error: BaseException | None) -> None:
        self.choose_button.setEnabled(True)
        if error is not None:
            self.message.emit(f"agent.command could not be saved: {error}", True)
            return
        self.message.emit(f"agent.command is now {command}", False)
        self.check()
