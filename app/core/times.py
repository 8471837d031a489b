"""Moments as Overnight writes them to files: ISO-8601 UTC (people read them in their locale, app/gui/formatting.py)."""

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
