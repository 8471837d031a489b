"""The banner shown while the queue is paused: why, until when, and a Resume button."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.core.queue import Pause, PauseReason
from app.gui.formatting import format_countdown

REASON_WORDS: Mapping[PauseReason, str] = {
    PauseReason.MANUAL: "paused by you",
    PauseReason.RATE_LIMIT: "usage limit reached",
    PauseReason.AUTH: "the usage meter refused the Claude credentials",
    PauseReason.NETWORK: "the usage meter has been unreachable for 30 minutes",
    PauseReason.STATE: "queue.json could not be read",
    PauseReason.DISK: "Overnight cannot write to its home folder",
    PauseReason.SETUP: "Claude Code not found",
}


class PauseBanner(QFrame):
    resumeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pause: Pause | None = None
        self.setObjectName("pauseBanner")
        # Translucent amber reads on light and dark palettes alike.
        self.setStyleSheet(
            "#pauseBanner { background: rgba(224, 138, 0, 48); border: 1px solid rgba(224, 138, 0, 160);"
            " border-radius: 4px; }"
        )
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.countdown = QLabel(self)
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.clicked.connect(self.resumeRequested)
        layout = QHBoxLayout(self)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.countdown)
        layout.addWidget(self.resume_button)
        self.setVisible(False)

    def show_pause(self, pause: Pause | None, now: dt.datetime) -> None:
        self.pause = pause
        self.setVisible(pause is not None)
        if pause is None:
            return
        self.message.setText(f"<b>Paused</b> — {REASON_WORDS[pause.reason]}: {escape(pause.message)}")
        self.message.setToolTip(f"reason: {pause.reason.value}; since {pause.since.astimezone():%Y-%m-%d %H:%M}")
        self.refresh(now)

    def refresh(self, now: dt.datetime) -> None:
        """The countdown to the resume time, as of `now`."""
        if self.pause is None or self.pause.resume_at is None:
            self.countdown.setText("")
            return
        self.countdown.setText(f"resumes {format_countdown(self.pause.resume_at, now)}")
