"""Times as Overnight writes them."""

from __future__ import annotations

import datetime as dt


def iso_ms(moment: dt.datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z: how every file and event of Overnight writes a time."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
