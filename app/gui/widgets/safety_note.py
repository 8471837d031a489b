"""What agents may do, said once per home (docs/BEHAVIOUR.md section 12): they run with
`--dangerously-skip-permissions`, and fix plans run without review unless the user turns that off.
Dismissed, it stays gone for that home: the app's settings of that home remember it."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.gui.window_state import home_settings
from app.paths import Home

STATEMENT = (
    "<b>Before you start:</b> agents run with <code>--dangerously-skip-permissions</code>: they can change "
    "any file you can, without asking. When a job fails, its investigation writes a fix plan that runs "
    "next without review unless <code>investigation.auto_run</code> is false in Settings."
)

READ_KEY = "safety_note_read"


class SafetyNote(QFrame):
    def __init__(self, home: Home, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._home_root = home.root
        self.setObjectName("safetyNote")
        self.setStyleSheet("#safetyNote { border: 1px solid palette(mid); border-radius: 4px; }")
        self.text = QLabel(STATEMENT, self)
        self.text.setWordWrap(True)
        self.dismiss_button = QPushButton("Got it", self)
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.dismiss_button)
        self.setVisible(not home_settings(home.root).value(READ_KEY, False, type=bool))

    def dismiss(self) -> None:
        home_settings(self._home_root).setValue(READ_KEY, True)
        self.setVisible(False)
