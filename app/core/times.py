"""Moments as Overnight writes them to files: ISO-8601 UTC (people read them in their locale, app/gui/formatting.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, overload


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


def parse_ts(text: object) -> dt.datetime | None:
    """An ISO-8601 time with a zone, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def timed_record(line: str) -> tuple[dt.datetime, dict[str, Any]] | None:
    """A JSON line of history.jsonl or the heartbeat: its `ts` and its fields, or None when it is
    not a readable record (bad or truncated JSON, not an object, no time with a zone)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    moment = parse_ts(record.get("ts")) if isinstance(record, dict) else None
    return (moment, record) if moment is not None else None
