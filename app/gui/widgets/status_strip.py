"""The strip under the toolbar: fire policy, running k/cap, the gate, both usage windows, config problems."""

from __future__ import annotations

import datetime as dt
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.core.gate import Decision, Open
from app.core.text import shorten
from app.engine.api import Snapshot
from app.gui.widgets.usage_bar import UsageBar

STALE_TIP = "The usage meter is failing: these are the last values it gave."


class StatusStrip(QWidget):
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.policy = QLabel(self)
        self.running = QLabel(self)
        self.gate = QLabel(self)
        self.five_hour = UsageBar("5 h", self)
        self.seven_day = UsageBar("7 d", self)
        self.stale = QLabel("⚠ stale", self)
        self.stale.setToolTip(STALE_TIP)
        self.problems = QLabel(self)
        self.problems.linkActivated.connect(lambda _link: self.settingsRequested.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.policy, self.running, self.gate):
            layout.addWidget(widget)
        layout.addStretch(1)
        for widget in (self.problems, self.five_hour, self.seven_day, self.stale):
            layout.addWidget(widget)
        self.stale.setVisible(False)
        self.problems.setVisible(False)

    def show_state(self, snapshot: Snapshot, now: dt.datetime) -> None:
        """Everything from what the engine published last: no call to the engine, no decision of
        its own (the gate's verdict is the engine's)."""
        state, config = snapshot.state, snapshot.config
        self.policy.setText(f"Policy: {config.fire_policy}")
        self.running.setText(f"Running {snapshot.running}/{snapshot.cap}")
        self._show_gate(snapshot.gate)
        self.five_hour.show_window(state.usage.five_hour, config.utilization_threshold, now)
        self.seven_day.show_window(state.usage.seven_day, config.weekly_threshold, now)
        self.stale.setVisible(state.usage.stale)
        self._show_problems(list(snapshot.problems))

    def _show_gate(self, decision: Decision) -> None:
        if isinstance(decision, Open):
            self.gate.setText("Gate open")
            self.gate.setToolTip("new runs may start now")
            return
        reason = decision.reason
        self.gate.setText(f"Gate closed: {shorten(reason, 60)}")
        self.gate.setToolTip(reason)

    def _show_problems(self, problems: list[str]) -> None:
        self.problems.setVisible(bool(problems))
        if not problems:
            return
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        self.problems.setText(f'⚠ <a href="settings">{count}</a>')
        self.problems.setToolTip("<br>".join(escape(problem) for problem in problems))

