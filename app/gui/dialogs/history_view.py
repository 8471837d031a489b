"""History (docs/BEHAVIOUR.md section 14): runs per day by outcome, cost per day, and five-hour and
seven-day utilization over the last 30 days, drawn with pyqtgraph from history.jsonl and the heartbeat.

The files are read and summed up off the GUI thread (app.core.history); the charts follow the palette.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer
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
BAR_WIDTH = DAY_SECONDS * 0.8
LEGEND_ROOM = 1.3  # the height of a chart over its highest value: room for the legend


@dataclass(frozen=True)
class Loaded:
    """The history and its utilization curves, ready to plot: (seconds, percents) by name."""

    history: History
    curves: dict[str, tuple[np.ndarray, np.ndarray]]


def load_history(home: Home, now: dt.datetime) -> Loaded:
    """Read history.jsonl and the heartbeat (its rotated file first) and sum them up; a missing file is
    empty. Blocking: run it off the GUI thread."""
    heartbeat = [home.heartbeat.with_name(home.heartbeat.name + ".1"), home.heartbeat]
    beats = [line for path in heartbeat for line in _lines(path)]
    history = summarize(_lines(home.history), beats, now)
    curves = {}
    for name, pick in (("five-hour", attrgetter("five_hour")), ("seven-day", attrgetter("seven_day"))):
        known = [(point.at.timestamp(), pick(point)) for point in history.usage if pick(point) is not None]
        curves[name] = (np.array([at for at, _ in known]), np.array([value for _, value in known]))
    return Loaded(history, curves)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


class HistoryView(QDialog):
    """Open it with `open()`; the charts appear once the files are read. They are built and drawn one per
    turn of the event loop, so opening the view never holds the window still for long."""

    def __init__(self, home: Home, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("History")
        self.resize(900, 760)
        self.history: History | None = None  # set once every chart is drawn
        self.note = QLabel("Reading the history…", self)
        self.note.setWordWrap(True)
        self.charts = pg.GraphicsLayoutWidget(self)
        self.plots: list[pg.PlotItem] = []  # runs, cost, utilization
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.charts, 1)
        self._steps: deque[Callable[[], None]] = deque()
        self._stepper = QTimer(self)
        self._stepper.setInterval(0)
        self._stepper.timeout.connect(self._next_step)
        self._follow_palette()
        now = dt.datetime.now().astimezone()
        in_background(lambda: load_history(home, now), self._loaded)

    @property
    def runs_plot(self) -> pg.PlotItem:
        return self.plots[0]

    @property
    def cost_plot(self) -> pg.PlotItem:
        return self.plots[1]

    @property
    def usage_plot(self) -> pg.PlotItem:
        return self.plots[2]

    def _later(self, step: Callable[[], None]) -> None:
        self._steps.append(step)
        self._stepper.start()

    def _next_step(self) -> None:
        self._steps.popleft()()
        if not self._steps:
            self._stepper.stop()

    def _add_chart(self, title: str, draw: Callable[[], None]) -> None:
        self._add_plot(title)
        draw()

    def _add_plot(self, title: str) -> None:
        plot = self.charts.addPlot(row=len(self.plots), col=0, title=title, axisItems={"bottom": pg.DateAxisItem()})
        plot.showGrid(y=True, alpha=0.2)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        self.plots.append(plot)
        self._style(plot)

    def _loaded(self, loaded: Loaded | None, error: BaseException | None) -> None:
        if error is not None or loaded is None:
            self.note.setText(f"The history could not be read: {error}")
            return
        history = loaded.history
        # Built once the files are read: building them while the reading thread runs would make each
        # wait for the other. One chart per step: each step is short, and each repaint is one.
        steps = (("Runs per day", lambda: self._draw_runs(history)),
                 ("Cost per day (USD)", lambda: self._draw_cost(history)),
                 ("Utilization (%)", lambda: self._draw_usage(loaded)))
        for title, draw in steps:
            self._later(lambda title=title, draw=draw: self._add_chart(title, draw))
        self._later(lambda: self._done(history))

    def _draw_runs(self, history: History) -> None:
        middles = _middays(history)
        below = [0] * len(middles)
        self._legend(self.runs_plot, columns=len(history.runs))
        for outcome, counts in history.runs.items():
            words, colour = OUTCOMES.get(outcome, (outcome, "#6b6bd6"))
            self.runs_plot.addItem(pg.BarGraphItem(x=middles, height=counts, y0=below, width=BAR_WIDTH, brush=colour,
                                                   pen=None, name=words))
            below = [base + count for base, count in zip(below, counts, strict=True)]
        self.runs_plot.setYRange(0, max(max(below), 1) * LEGEND_ROOM, padding=0)
        self._span(self.runs_plot, middles)

    def _draw_cost(self, history: History) -> None:
        middles = _middays(history)
        self.cost_plot.addItem(pg.BarGraphItem(x=middles, height=history.cost, width=BAR_WIDTH, brush="#4a7fd0",
                                               pen=None))
        self._span(self.cost_plot, middles)

    def _draw_usage(self, loaded: Loaded) -> None:
        plot = self.usage_plot
        self._legend(plot, columns=2)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        for name, colour in (("five-hour", "#d9962b"), ("seven-day", "#4a7fd0")):
            seconds, percents = loaded.curves[name]
            plot.plot(seconds, percents, name=name, pen=pg.mkPen(colour, width=2))
        plot.setYRange(0, 100 * LEGEND_ROOM, padding=0)
        self._span(plot, _middays(loaded.history))

    def _legend(self, plot: pg.PlotItem, columns: int) -> None:
        """The legend in one row at the top, over the room left above the bars and curves."""
        plot.addLegend(offset=(10, 1), colCount=columns)
        self._style(plot)

    @staticmethod
    def _span(plot: pg.PlotItem, middles: list[float]) -> None:
        plot.setXRange(middles[0] - DAY_SECONDS / 2, middles[-1] + DAY_SECONDS / 2, padding=0)

    def _done(self, history: History) -> None:
        self.note.setText(_summary(history))
        self.history = history

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._follow_palette()

    def _follow_palette(self) -> None:
        self.charts.setBackground(self.palette().color(QPalette.ColorRole.Base))
        for plot in self.plots:
            self._style(plot)

    def _style(self, plot: pg.PlotItem) -> None:
        text = self.palette().color(QPalette.ColorRole.WindowText)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(text)
            axis.setTextPen(text)
        plot.setTitle(plot.titleLabel.text, color=QColor(text).name())
        if plot.legend is not None:
            plot.legend.setLabelTextColor(text)
            plot.legend.setBrush(self.palette().color(QPalette.ColorRole.Base))
            plot.legend.setPen(None)


def _middays(history: History) -> list[float]:
    return [_midday(day) for day in history.days]


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

