"""Moments as Overnight writes them: ISO-8601 UTC for files, a local clock time for people."""

from __future__ import annotations

import datetime as dt
from typing import overload


@overload
def iso_ms(moment: dt.datetime) -> str: ...


@overload
def iso_ms(moment: None) -> None: ...


def iso_ms(moment: dt.datetime | None) -> str | None:
    """`2026-11-22T01:45:00.123Z`: UTC, to the millisecond, as queue.json, history.jsonl and
    the logs write every moment. None stays None (a moment not known)."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(moment: dt.datetime, now: dt.datetime, *, day_format: str = "%a %d %b") -> str:
    """`moment` in the computer's time zone: "14:05" on `now`'s day, else the day in
    `day_format` before it ("Tue 24 Nov 14:05")."""
    local = moment.astimezone()
    if local.date() == now.astimezone().date():
        return f"{local:%H:%M}"
    return f"{local:{day_format} %H:%M}"
