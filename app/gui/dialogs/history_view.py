"""History (docs/BEHAVIOUR.md section 14): runs per day by outcome, cost per day, and five-hour and
seven-day utilization over the last 30 days, drawn with pyqtgraph from history.jsonl and the heartbeat.

The files are read and summed up off the GUI thread (app.core.history); the charts follow the palette.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from app.core.history import DAYS, History, summarize
from app.core.text import pluralize
from app.gui.desktop import in_background
from app.gui.formatting import format_cost
from app.paths import Home

# Outcome: (legend words, colour); the colours read on a light and on a dark background alike.
OUTCOMES = {
    "completed": ("completed", "#3a9a4a"),
    "failed": ("failed", "#d0453c"),
    "rate_limited": ("stopped by a usage limit", "#d9962b"),
    "cancelled": ("cancelled", "#8a8f98"),
}
DAY_SECONDS = 86_400


def load_history(home: Home, now: dt.datetime) -> History:
    """Read history.jsonl and the heartbeat (its rotated file first) and sum them up; a missing file is empty."""
    heartbeat = [home.heartbeat.with_name(home.heartbeat.name + ".1"), home.heartbeat]
    beats = [line for path in heartbeat for line in _lines(path)]
    return summarize(_lines(home.history), beats, now)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


class HistoryView(QDialog):
    """Open it with `open()`; the charts fill in once the files are read."""

    def __init__(self, home: Home, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("History")
        self.resize(900, 760)
        self.history: History | None = None
        self.note = QLabel("Reading the history…", self)
        self.note.setWordWrap(True)
        self.charts = pg.GraphicsLayoutWidget(self)
        self.runs_plot = self._plot(0, "Runs per day")
        self.cost_plot = self._plot(1, "Cost per day (USD)")
        self.usage_plot = self._plot(2, "Utilization (%)")
        self.usage_plot.setYRange(0, 100)
        self.runs_plot.addLegend(offset=(10, 5))
        self.usage_plot.addLegend(offset=(10, 5))
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.charts, 1)
        self._follow_palette()
        now = dt.datetime.now().astimezone()
        in_background(lambda: load_history(home, now), self._loaded)

    def _plot(self, row: int, title: str) -> pg.PlotItem:
        plot = self.charts.addPlot(row=row, col=0, title=title, axisItems={"bottom": pg.DateAxisItem()})
        plot.showGrid(y=True, alpha=0.2)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        return plot

    def _loaded(self, history: History | None, error: BaseException | None) -> None:
        if error is not None or history is None:
            self.note.setText(f"The history could not be read: {error}")
            return
        self.history = history
        self._draw(history)
        self.note.setText(_summary(history))

    def _draw(self, history: History) -> None:
        middles = [_midday(day) for day in history.days]
        width = DAY_SECONDS * 0.8
        below = [0] * len(middles)
        for outcome, counts in history.runs.items():
            words, colour = OUTCOMES.get(outcome, (outcome, "#6b6bd6"))
            bars = pg.BarGraphItem(x=middles, height=counts, y0=below, width=width, brush=colour, pen=None, name=words)
            self.runs_plot.addItem(bars)
            below = [base + count for base, count in zip(below, counts, strict=True)]
        self.cost_plot.addItem(pg.BarGraphItem(x=middles, height=history.cost, width=width, brush="#4a7fd0", pen=None))
        span = (middles[0] - DAY_SECONDS / 2, middles[-1] + DAY_SECONDS / 2)
        for plot in (self.runs_plot, self.cost_plot, self.usage_plot):
            plot.setXRange(*span, padding=0)
        seconds = [point.at.timestamp() for point in history.usage]
        for name, values, colour in (
            ("five-hour", [point.five_hour for point in history.usage], "#d9962b"),
            ("seven-day", [point.seven_day for point in history.usage], "#4a7fd0"),
        ):
            known = [(at, value) for at, value in zip(seconds, values, strict=True) if value is not None]
            self.usage_plot.plot([at for at, _ in known], [value for _, value in known], name=name,
                                 pen=pg.mkPen(colour, width=2))
        self.usage_plot.setDownsampling(auto=True, mode="peak")
        self.usage_plot.setClipToView(True)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._follow_palette()

    def _follow_palette(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        self.charts.setBackground(palette.color(QPalette.ColorRole.Base))
        for plot in (self.runs_plot, self.cost_plot, self.usage_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(text)
                axis.setTextPen(text)
            plot.setTitle(plot.titleLabel.text, color=QColor(text).name())


def _midday(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(12)).astimezone().timestamp()


def _summary(history: History) -> str:
    runs = sum(sum(counts) for counts in history.runs.values())
    text = (f"Last {DAYS} days: {pluralize(runs, 'run')}, {format_cost(sum(history.cost)) or '$0.00'}."
            if runs else f"No runs in the last {DAYS} days.")
    if not history.usage:
        text += " No utilization recorded yet."
    if history.skipped:
        text += (f" {pluralize(history.skipped, 'line')} of history.jsonl or the heartbeat could not be read"
                 " and {} skipped.".format("was" if history.skipped == 1 else "were"))
    return text

