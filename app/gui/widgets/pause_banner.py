"""The banner shown while the queue is paused, on one line: why, until when, and a Resume button
("Paused: usage limit · resumes 19:12 (in 22 min)"); the whole story is in its tooltip."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QWidget

from app.core.queue import Pause, PauseReason
from app.gui.formatting import PAUSE_WORDS, format_clock, format_countdown, plain_words
from app.gui.widgets.elided_label import ElidedLabel


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
        self.message = ElidedLabel(self)
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.clicked.connect(self.resumeRequested)
        layout = QHBoxLayout(self)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.resume_button)
        self.setVisible(False)

    def show_pause(self, pause: Pause | None, now: dt.datetime) -> None:
        self.pause = pause
        self.setVisible(pause is not None)
        self.refresh(now)

    def refresh(self, now: dt.datetime) -> None:
        """The line and its tooltip as of `now` (the countdown to the resume time moves)."""
        pause = self.pause
        if pause is None:
            return
        short, story = PAUSE_WORDS[pause.reason]
        message = plain_words(pause.message, now)
        # The user's own words are the point of a manual pause; other messages are details.
        said = f" — {message}" if pause.reason is PauseReason.MANUAL and message else ""
        resumes = f" · resumes {format_countdown(pause.resume_at, now)}" if pause.resume_at else ""
        tip = [f"Paused: {story}.", message, f"Since {format_clock(pause.since, now)}."]
        if pause.resume_at:
            tip.append(f"Resumes by itself at {format_clock(pause.resume_at, now)}.")
        self.message.set_full_text(f"Paused: {short}{said}{resumes}", "\n".join(line for line in tip if line))
