"""The strip under the toolbar: fire policy, running k/cap, the gate, both usage windows, config problems."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from html import escape
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.config import Config
from app.core.usage import Window
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

    def show_status(self, status: Mapping[str, Any], config: Config, now: dt.datetime) -> None:
        """Show the engine's answer to the `status` command."""
        self.policy.setText(f"Policy: {status.get('firePolicy', config.fire_policy)}")
        self.running.setText(f"Running {status.get('running', 0)}/{status.get('cap', config.concurrency_cap)}")
        self._show_gate(status.get("gate") or {})
        usage = status.get("usage") or {}
        self.five_hour.show_window(_window(usage, "fiveHour"), config.utilization_threshold, now)
        self.seven_day.show_window(_window(usage, "sevenDay"), config.weekly_threshold, now)
        self.stale.setVisible(bool(usage.get("stale")))
        self._show_problems([*status.get("configProblems", ()), *status.get("warnings", ())])

    def tick(self, now: dt.datetime) -> None:
        self.five_hour.tick(now)
        self.seven_day.tick(now)

    def _show_gate(self, gate: Mapping[str, Any]) -> None:
        if gate.get("open", True):
            self.gate.setText("Gate open")
            self.gate.setToolTip("new runs may start now")
            return
        reason = str(gate.get("reason") or "closed")
        self.gate.setText(f"Gate closed: {reason if len(reason) <= 60 else reason[:59] + '…'}")
        self.gate.setToolTip(reason)

    def _show_problems(self, problems: list[str]) -> None:
        self.problems.setVisible(bool(problems))
        if not problems:
            return
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        self.problems.setText(f'⚠ <a href="settings">{count}</a>')
        self.problems.setToolTip("<br>".join(escape(problem) for problem in problems))


def _window(usage: Mapping[str, Any], key: str) -> Window:
    utilization = usage.get(key)
    resets_at = usage.get(f"{key}ResetsAt")
    return Window(
        float(utilization) if isinstance(utilization, int | float) else None,
        dt.datetime.fromisoformat(resets_at.replace("Z", "+00:00")) if isinstance(resets_at, str) else None,
    )
