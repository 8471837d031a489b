"""The subscription's usage as Overnight last saw it: two windows, maybe stale."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """One usage window of the subscription meter."""

    utilization: float | None = None  # 0–100
    resets_at: dt.datetime | None = None

    def effective(self, now: dt.datetime) -> float | None:
        """A reading taken before the window reset says nothing about the new window."""
        if self.utilization is not None and self.resets_at is not None and now >= self.resets_at:
            return 0.0
        return self.utilization


@dataclass(frozen=True, slots=True)
class Usage:
    five_hour: Window = Window()
    seven_day: Window = Window()
    polled_at: dt.datetime | None = None
    stale: bool = False  # the last poll failed: these are the last good values

    @property
    def known(self) -> bool:
        return self.five_hour.utilization is not None or self.seven_day.utilization is not None


UNKNOWN = Usage()


def shown_percent(utilization: float | None) -> str:
    """A utilization as the command line shows it: "42%", or "unknown" when the meter gave none."""
    return "unknown" if utilization is None else f"{utilization:.0f}%"
