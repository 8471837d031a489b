"""One usage window of the subscription (five-hour or seven-day) as a bar with its reset countdown."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from app.core.usage import Window
from app.gui.formatting import format_countdown


class UsageBar(QWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.window_value = Window()
        self.threshold: float | None = None
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(130)
        self.countdown = QLabel(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.countdown)
        self.show_window(Window(), None, dt.datetime.now(dt.UTC))

    def show_window(self, window: Window, threshold: float | None, now: dt.datetime) -> None:
        self.window_value = window
        self.threshold = threshold
        self.refresh(now)

    def refresh(self, now: dt.datetime) -> None:
        """The utilization and the reset countdown as of `now`: a window's value lapses once it has reset."""
        utilization = self.window_value.effective(now)
        if utilization is None:
            self.bar.setValue(0)
            self.bar.setFormat(f"{self.name}: unknown")
        else:
            self.bar.setValue(round(min(max(utilization, 0), 100)))
            self.bar.setFormat(f"{self.name}: {utilization:.0f}%")
        resets_at = self.window_value.resets_at
        countdown = format_countdown(resets_at, now)
        self.countdown.setText(f"resets {countdown}" if countdown else "")
        limit = f"; new runs start below {self.threshold:g}%" if self.threshold is not None else ""
        self.setToolTip(f"{self.name} usage of your subscription{limit}")
