"""What agents may do, said once per home (docs/BEHAVIOUR.md section 12): they run with
`--dangerously-skip-permissions`, and fix plans run without review unless the user turns that off.
Dismissed, it stays gone for that home: the app's settings remember it under a key naming the home."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.paths import Home

STATEMENT = (
    "<b>Before you start:</b> agents run with <code>--dangerously-skip-permissions</code>: they can change "
    "any file you can, without asking. When a job fails, its investigation writes a fix plan that runs "
    "next without review unless <code>investigation.auto_run</code> is false in Settings."
)




def app_settings() -> QSettings:
    """The desktop app's own settings (not config.yaml): what the user has dismissed."""
    return QSettings("overnight", "overnight")


def settings_key(home: Home) -> str:
    return f"safety-note-read/{home.root}"


class SafetyNote(QFrame):
    def __init__(self, home: Home, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._key = settings_key(home)
        self.setObjectName("safetyNote")
        self.setStyleSheet("#safetyNote { border: 1px solid palette(mid); border-radius: 4px; }")
        self.text = QLabel(STATEMENT, self)
        self.text.setWordWrap(True)
        self.dismiss_button = QPushButton("Got it", self)
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.dismiss_button)
        self.setVisible(not app_settings().value(self._key, False, type=bool))

    def dismiss(self) -> None:
        app_settings().setValue(self._key, True)
        self.setVisible(False)
