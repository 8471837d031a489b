"""Reset times of usage limits: epoch seconds, ISO-8601 and the CLI's limit messages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Forms the CLI has printed over time: "You've hit your session limit · resets 2:44am (UTC)",
# "5-hour limit reached ∙ resets 1am", "Claude AI usage limit reached|1767398400",
# "Claude usage limit reached. Your limit will reset at 5pm (Europe/Paris)."
_LIMIT_MESSAGE = re.compile(
    r"""
      You(?:'|’)ve\s+(?:hit|reached)\s+your\s+(?:[\w'’-]+\s+){0,4}?limit\b[^\n]*
    | Claude(?:\s+AI)?\s+usage\s+limit\s+reached\b[^\n]*
    | \b(?:[\w-]+\s+){0,2}?limit\s+reached\s*[∙·•|-]\s*resets?\b[^\n]*
    """,
    re.IGNORECASE | re.VERBOSE,
)

_EPOCH_RESET = re.compile(r"limit\s+reached\|(\d{9,11})(?!\d)", re.IGNORECASE)

_CLOCK_RESET = re.compile(
    r"""
    \bresets?\s+(?:at\s+|on\s+)?
    (?:
        (?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+
        (?P<day>\d{1,2})(?:,\s*(?P<year>\d{4}))?
        (?:\s+at\s+|,\s*|\s+)
    )?
    (?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?!\d)
    \s*(?P<meridiem>[ap])?(?(meridiem)\.?m\b\.?)
    (?:\s*\((?P<zone>[^()\s]+)\))?
    """,
    re.IGNORECASE | re.VERBOSE,
)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_LIMIT_KINDS = (
    (re.compile(r"\b(?:session|5-hour|five-hour)\s+limit", re.IGNORECASE), "five_hour"),
    (re.compile(r"\bOpus\s+limit", re.IGNORECASE), "seven_day_opus"),
    (re.compile(r"\bSonnet\s+limit", re.IGNORECASE), "seven_day_sonnet"),
    (re.compile(r"\bweekly\s+limit", re.IGNORECASE), "seven_day"),
)

# The CLI prints the reset floored to the minute, so a time within the last minute is this
# reset, not tomorrow's.
_DISPLAY_PRECISION = timedelta(minutes=1)


def reset_from_epoch(seconds: int | float) -> datetime:
    """Epoch seconds (a `rate_limit_event`'s `resetsAt`) as an aware UTC datetime.

    Raises ValueError when the value is outside the range a datetime can hold.
    """
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise ValueError(f"reset time {seconds!r} is out of range") from error


# A usage window resets within seven days; a reset further away is not one, whatever said it.
_LONGEST_WAIT = timedelta(days=8)


def plausible_reset(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` if it can be a usage window's reset seen at `now`, else None (unknown)."""
    if moment is None or moment - now > _LONGEST_WAIT:
        return None
    return moment


def reset_from_iso(text: str | None) -> datetime | None:
    """The usage meter's `resets_at` (ISO-8601, `Z` or an offset) as an aware datetime."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_limit_message(text: str) -> str | None:
    """The usage-limit sentence in a text the CLI printed, or None when there is none."""
    match = _LIMIT_MESSAGE.search(text)
    return match.group(0).strip() if match else None


def limit_kind_from_text(text: str) -> str | None:
    """The `rateLimitType` a limit message names ("five_hour", "seven_day", …), or None."""
    for pattern, kind in _LIMIT_KINDS:
        if pattern.search(text):
            return kind
    return None


def reset_from_text(text: str, now: datetime, local_tz: tzinfo) -> datetime | None:
    """The reset moment a limit message states, or None when it states none that can be read.

    `now` must be aware. A zone in parentheses is honoured; without one (or with an unknown
    one) the time is read in `local_tz`.
    """
    epoch = _EPOCH_RESET.search(text)
    if epoch:
        return reset_from_epoch(int(epoch.group(1)))
    clock = _CLOCK_RESET.search(text)
    if clock is None:
        return None
    hour_minute = _hour_minute(clock)
    if hour_minute is None:
        return None
    zone = _zone(clock.group("zone"), local_tz)
    local_now = now.astimezone(zone)
    if clock.group("month"):
        return _dated_reset(clock, hour_minute, zone, local_now)
    return _next_clock_time(hour_minute, zone, local_now)


def _hour_minute(clock: re.Match[str]) -> time | None:
    hour = int(clock.group("hour"))
    minute = int(clock.group("minute") or 0)
    meridiem = (clock.group("meridiem") or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    elif clock.group("minute") is None:
        return None  # a bare "3" could be anything
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _zone(name: str | None, local_tz: tzinfo) -> tzinfo:
    if not name:
        return local_tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return local_tz


def _next_clock_time(at: time, zone: tzinfo, local_now: datetime) -> datetime:
    today = datetime.combine(local_now.date(), at, tzinfo=zone)
    if today >= local_now - _DISPLAY_PRECISION:
        return today
    return datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=zone)


def _dated_reset(
    clock: re.Match[str], at: time, zone: tzinfo, local_now: datetime
) -> datetime | None:
    month = _MONTHS.index(clock.group("month")[:3].lower()) + 1
    day = int(clock.group("day"))
    if clock.group("year"):
        return _on_day(int(clock.group("year")), month, day, at, zone)
    this_year = _on_day(local_now.year, month, day, at, zone)
    if this_year is not None and this_year >= local_now - _DISPLAY_PRECISION:
        return this_year
    return _on_day(local_now.year + 1, month, day, at, zone)


def _on_day(year: int, month: int, day: int, at: time, zone: tzinfo) -> datetime | None:
    try:
        return datetime.combine(date(year, month, day), at, tzinfo=zone)
    except ValueError:
        return None
