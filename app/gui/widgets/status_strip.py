"""The strip under the toolbar, on one line: when runs start (the fire policy), running k/cap,
whether new runs start now and why not, both usage windows, config problems. Long words go to
tooltips and the verdict shortens to fit, so the strip never widens the window."""

from __future__ import annotations

import datetime as dt
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.core.gate import limited_window
from app.engine.api import Snapshot
from app.gui.formatting import POLICY_WORDS, gate_words
from app.gui.widgets.elided_label import ElidedLabel
from app.gui.widgets.usage_bar import UsageBar

STALE_TIP = "The usage meter is failing: these are the last values it gave."


class StatusStrip(QWidget):
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.policy = ElidedLabel(self)
        self.running = QLabel(self)
        self.gate = ElidedLabel(self)
        self.five_hour = UsageBar("5 h", self)
        self.seven_day = UsageBar("7 d", self)
        self.stale = QLabel("⚠ stale", self)
        self.stale.setToolTip(STALE_TIP)
        self.problems = QLabel(self)
        self.problems.linkActivated.connect(lambda _link: self.settingsRequested.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget, stretch in ((self.policy, 0), (self.running, 0), (self.gate, 1), (self.problems, 0),
                                (self.five_hour, 0), (self.seven_day, 0), (self.stale, 0)):
            layout.addWidget(widget, stretch)
        self.stale.setVisible(False)
        self.problems.setVisible(False)

    def show_state(self, snapshot: Snapshot, now: dt.datetime) -> None:
        """Everything from what the engine published last: no call to the engine, no decision of
        its own (the gate's verdict is the engine's)."""
        state, config = snapshot.state, snapshot.config
        short, story = POLICY_WORDS.get(config.fire_policy, (config.fire_policy, ""))
        self.policy.set_full_text(f"Runs start: {short}", story)
        self.running.setText(f"Running {snapshot.running}/{snapshot.cap}")
        text, tooltip, short = gate_words(snapshot.gate, now)
        self.gate.set_full_text(text, tooltip, short)
        limited = limited_window(state.paused)
        limit_until = state.paused.resume_at if state.paused is not None else None
        self.five_hour.show_window(state.usage.five_hour, config.utilization_threshold, now,
                                   limit_until if limited == "five_hour" else None)
        self.seven_day.show_window(state.usage.seven_day, config.weekly_threshold, now,
                                   limit_until if limited == "seven_day" else None)
        self.stale.setVisible(state.usage.stale)
        self._show_problems(list(snapshot.problems))

    def _show_problems(self, problems: list[str]) -> None:
        self.problems.setVisible(bool(problems))
        if not problems:
            return
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        self.problems.setText(f'⚠ <a href="settings">{count}</a>')
        self.problems.setToolTip("<br>".join(escape(problem) for problem in problems))
