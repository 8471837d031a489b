"""What a usage-meter poll means for the queue (docs/BEHAVIOUR.md section 6): backoff and pauses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from app.core.limits import plausible_reset, reset_from_iso
from app.core.queue import Pause, PauseReason
from app.core.usage import Usage, Window

BACKOFF_START = 30.0
BACKOFF_MAX = 480.0
NETWORK_PAUSE_AFTER = dt.timedelta(minutes=30)

PollKind = Literal["ok", "auth", "rate_limited", "transient", "no_credentials"]


@dataclass(frozen=True, slots=True)
class PollResult:
    kind: PollKind
    message: str = ""
    status: int | None = None
    retry_after: float | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class MeterHealth:
    failures: int = 0
    failing_since: dt.datetime | None = None  # start of an unbroken run of network/server failures
    backoff: float = 0.0
    last: PollResult | None = None


@dataclass(frozen=True, slots=True)
class MeterStep:
    health: MeterHealth
    next_poll_in: float
    pause: Pause | None = None  # a pause to apply (auth, network)


def usage_from_response(body: object, now: dt.datetime) -> Usage | None:
    """The meter's JSON → Usage, or None when it is not the shape we know."""
    if not isinstance(body, dict) or not any(k in body for k in ("five_hour", "seven_day")):
        return None
    windows = []
    for key in ("five_hour", "seven_day"):
        value = body.get(key)
        if value is None:
            windows.append(Window())
            continue
        if not isinstance(value, dict):
            return None
        utilization = value.get("utilization")
        if utilization is not None and (isinstance(utilization, bool) or not isinstance(utilization, (int, float))):
            return None
        resets_at = plausible_reset(reset_from_iso(value.get("resets_at")), now)
        windows.append(Window(float(utilization) if utilization is not None else None, resets_at))
    return Usage(five_hour=windows[0], seven_day=windows[1], polled_at=now, stale=False)


def after_poll(health: MeterHealth, result: PollResult, poll_seconds: float, now: dt.datetime) -> MeterStep:
    if result.kind in ("ok", "no_credentials"):
        return MeterStep(MeterHealth(last=result), poll_seconds)
    failures = health.failures + 1
    backoff = min(health.backoff * 2, BACKOFF_MAX) if health.backoff else BACKOFF_START
    if result.kind == "auth":
        refused = Pause(
            PauseReason.AUTH,
            now,
            None,
            f"the usage meter refused the credentials (HTTP {result.status}); sign in again with "
            "`claude` — Overnight resumes as soon as the credentials work",
        )
        return MeterStep(MeterHealth(failures, health.failing_since, 0.0, result), poll_seconds, refused)
    if result.kind == "rate_limited":
        # The meter itself is busy: keep the last values, wait, but this is not a network failure.
        delay = max(result.retry_after or 0.0, backoff)
        return MeterStep(MeterHealth(failures, health.failing_since, backoff, result), delay)
    failing_since = health.failing_since or now
    pause = None
    if now - failing_since >= NETWORK_PAUSE_AFTER:
        pause = Pause(
            PauseReason.NETWORK,
            now,
            None,
            f"the usage meter has failed for {int((now - failing_since).total_seconds() // 60)} minutes "
            f"({result.message}); resuming on the next good poll",
        )
    return MeterStep(MeterHealth(failures, failing_since, backoff, result), backoff, pause)
