"""One usage window of the subscription (five-hour or seven-day): its name, a slim bar coloured by
how close it is to the threshold, and the reading with its reset time in a label beside the bar
(never text across the fill, which one colour cannot keep readable on both sides)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from app.core.usage import Window
from app.gui.formatting import ERROR_COLOR, WARNING_COLOR, format_clock, format_countdown
from app.gui.widgets.elided_label import ElidedLabel

NEAR_POINTS = 10  # within this many points under the threshold, the bar turns amber
BAR_WIDTH = 56
# One style whatever the colour, so a bar does not change its look when it turns amber or red.
BAR_STYLE = ("QProgressBar { border: 1px solid palette(mid); border-radius: 3px; background: palette(base); }"
             " QProgressBar::chunk { background: FILL; border-radius: 2px; }")


def bar_color(utilization: float | None, threshold: float | None) -> str | None:
    """Red at or over the threshold, amber near it, else the style's own colour (None)."""
    if utilization is None or threshold is None:
        return None
    if utilization >= threshold:
        return ERROR_COLOR
    return WARNING_COLOR if utilization >= threshold - NEAR_POINTS else None


class UsageBar(QWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.window_value = Window()
        self.threshold: float | None = None
        self.limit_until: dt.datetime | None = None
        self.color: str | None = None
        self.label = QLabel(name, self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(BAR_WIDTH, self.fontMetrics().height() - 2)
        self.reading = ElidedLabel(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.reading, 1)
        self.show_window(Window(), None, dt.datetime.now(dt.UTC))

    def show_window(self, window: Window, threshold: float | None, now: dt.datetime,
                    limit_until: dt.datetime | None = None) -> None:
        """`limit_until`: Claude reported this window's limit reached until then (a usage-limit pause)."""
        self.window_value, self.threshold, self.limit_until = window, threshold, limit_until
        self.refresh(now)

    def refresh(self, now: dt.datetime) -> None:
        """The reading and the reset time as of `now`: a window's value lapses once it has reset; a
        limit Claude reported holds until its reset, whatever the meter read."""
        limited = self.limit_until is not None and now < self.limit_until
        utilization = 100.0 if limited else self.window_value.effective(now)
        resets_at = self.limit_until if limited else self.window_value.resets_at
        if resets_at is not None and resets_at <= now:
            resets_at = None
        value = "unknown" if utilization is None else f"{utilization:.0f} %"
        if limited:
            value = "limit reached"
        self.bar.setValue(0 if utilization is None else round(min(max(utilization, 0), 100)))
        reading = f"{value} · resets {format_clock(resets_at, now)}" if resets_at else value
        self.reading.set_full_text(reading, short=value)
        color = ERROR_COLOR if limited else bar_color(utilization, self.threshold)
        if color != self.color or not self.bar.styleSheet():
            self.color = color
            self.bar.setStyleSheet(BAR_STYLE.replace("FILL", color or "palette(highlight)"))
        limit = f"; new runs start below {self.threshold:g} %" if self.threshold is not None else ""
        when = f"\nResets {format_countdown(resets_at, now)}" if resets_at else ""
        self.setToolTip(f"{self.name} usage of your subscription: {value}{limit}{when}")
