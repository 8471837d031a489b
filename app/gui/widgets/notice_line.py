"""A line at the bottom of the window for the answers to the user's commands; errors stay longer and in red."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.gui.formatting import ERROR_COLOR


class NoticeLine(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setWordWrap(True)
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.timeout.connect(self.clear)

    def show_message(self, text: str, timeout_ms: int, is_error: bool = False) -> None:
        self.setStyleSheet(f"color: {ERROR_COLOR};" if is_error else "")
        self.setText(text)
        self.setToolTip(text)
        self._expiry.start(timeout_ms)
