"""What the History view charts (docs/BEHAVIOUR.md section 14): history.jsonl and heartbeat lines
turned into per-day series over the last days.

Pure: the caller reads the files and passes their lines. A line that is not a JSON object with a
readable `ts` (a truncated last line, a hand edit) is skipped and counted, so the view can say so.
Days are the user's calendar days, in the time zone of `now`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.outcome import OutcomeKind
from app.core.times import timed_record

DAYS = 30
RUN_FINISHED = "run.finished"  # the history.jsonl event of a finished run (docs/BEHAVIOUR.md section 2)


@dataclass(frozen=True)
class UsagePoint:
    """One heartbeat's utilization (0–100, None when not known)."""

    at: dt.datetime
    five_hour: float | None
    seven_day: float | None


@dataclass(frozen=True)
class History:
    """The series over `days` (oldest first); `runs[outcome][i]` and `cost[i]` belong to `days[i]`."""

    days: tuple[dt.date, ...]
    runs: dict[str, list[int]]
    cost: list[float]
    usage: list[UsagePoint] = field(default_factory=list)
    skipped: int = 0  # lines that could not be read


def summarize(history_lines: Iterable[str], heartbeat_lines: Iterable[str], now: dt.datetime,
              days: int = DAYS) -> History:
    """Runs per day by outcome, cost per day and utilization over time, for the `days` days up to `now`
    (aware). Only job runs count (an investigation is not a job's run)."""
    zone = now.tzinfo
    last = now.date()
    first = last - dt.timedelta(days=days - 1)
    day_list = tuple(first + dt.timedelta(days=offset) for offset in range(days))
    runs = {kind.value: [0] * days for kind in OutcomeKind}
    cost = [0.0] * days
    skipped = 0
    for line in history_lines:
        record = timed_record(line)
        if record is None:
            skipped += line.strip() != ""
            continue
        at, fields = record
        if fields.get("event") != RUN_FINISHED or fields.get("kind") != "job":
            continue
        index = (at.astimezone(zone).date() - first).days
        if not 0 <= index < days:
            continue
        outcome = str(fields.get("outcome") or OutcomeKind.FAILED)
        runs.setdefault(outcome, [0] * days)[index] += 1
        spent = fields.get("costUsd")
        if isinstance(spent, int | float) and not isinstance(spent, bool):
            cost[index] += float(spent)
    usage = []
    start = dt.datetime.combine(first, dt.time(), zone)
    for line in heartbeat_lines:
        record = timed_record(line)
        if record is None:
            skipped += line.strip() != ""
            continue
        at, fields = record
        if start <= at <= now:
            usage.append(UsagePoint(at, _percent(fields.get("fiveHour")), _percent(fields.get("sevenDay"))))
    usage.sort(key=lambda point: point.at)
    return History(day_list, runs, cost, usage, skipped)


def _percent(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
