"""Whether new runs may start now (docs/BEHAVIOUR.md section 6): fire policy, usage, pauses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from app.core.agent import AGENT_FIX
from app.core.queue import PAUSE_STRENGTH, OnReset, Pause, PauseReason
from app.core.text import one_line
from app.core.usage import Usage, Window

FirePolicy = Literal["when-available", "on-reset", "manual"]


@dataclass(frozen=True, slots=True)
class GatePolicy:
    fire_policy: FirePolicy = "when-available"
    utilization_threshold: float = 90
    weekly_threshold: float = 98
    offset_minutes: float = 15
    when_unknown: Literal["fire", "hold"] = "fire"


@dataclass(frozen=True, slots=True)
class Open:
    pass


@dataclass(frozen=True, slots=True)
class Closed:
    kind: Literal["paused", "manual", "usage", "unknown", "on_reset"]
    reason: str
    until: dt.datetime | None = None


Decision = Open | Closed


def closed_why(closed: Closed) -> str:
    """Why no new run starts, in a few words for a person (the queue table, the status strip): the
    reason itself when it is already words (a usage window over its threshold)."""
    return {
        "paused": "the queue is paused",
        "manual": "you start each batch",
        "unknown": "usage is unknown",
        "on_reset": "waiting for the usage reset",
    }.get(closed.kind, closed.reason)


def decide(
    policy: GatePolicy,
    usage: Usage,
    paused: Pause | None,
    on_reset: OnReset,
    now: dt.datetime,
    *,
    force: bool = False,
) -> Decision:
    """Starting the next batch now (`force`) is the user's override: it opens the gate whatever closed it."""
    if force:
        return Open()
    if paused is not None:
        return Closed("paused", paused.message, paused.resume_at)
    if policy.fire_policy == "manual":
        return Closed("manual", "fire policy is manual: runs start only with Start next batch now (overnight tick)")
    if not usage.known:
        if policy.when_unknown == "hold":
            return Closed("unknown", "usage is unknown and usage.when_unknown is hold")
    else:
        closed = _over_threshold(policy, usage, now)
        if closed is not None:
            return closed
    waiting_for_reset = on_reset.target is None or now < on_reset.target
    if policy.fire_policy == "on-reset" and not on_reset.active and waiting_for_reset:
        when = f" at {on_reset.target:%H:%M} UTC" if on_reset.target else ""
        return Closed("on_reset", f"fire policy on-reset: waiting to start{when}", on_reset.target)
    return Open()


def _over_threshold(policy: GatePolicy, usage: Usage, now: dt.datetime) -> Closed | None:
    windows = (
        ("five-hour", usage.five_hour, policy.utilization_threshold),
        ("seven-day", usage.seven_day, policy.weekly_threshold),
    )
    for name, window, threshold in windows:
        used = window.effective(now)
        if used is not None and used >= threshold:
            return Closed("usage", f"{name} usage {used:.0f} % ≥ {threshold:g} %", window.resets_at)
    return None


def advance_on_reset(
    on_reset: OnReset, policy: GatePolicy, usage: Usage, has_work: bool, now: dt.datetime
) -> OnReset:
    """on-reset fires once, offset_minutes after the next five-hour reset, then behaves as
    when-available until the queue is empty; an empty queue re-arms it."""
    if policy.fire_policy != "on-reset" or not has_work:
        return OnReset()
    if on_reset.active:
        return on_reset
    target = on_reset.target
    if target is None:
        resets_at = usage.five_hour.resets_at
        # No five-hour window open (or unknown): the next window starts with the first run.
        target = resets_at + dt.timedelta(minutes=policy.offset_minutes) if resets_at else now
    return OnReset(target=target, active=now >= target)


# ---------------------------------------------------------------- pauses


def pause_with(current: Pause | None, new: Pause) -> Pause:
    """A weaker pause never replaces a stronger one (a usage limit does not undo a manual
    pause); two usage limits keep the later resume time."""
    if current is None:
        return new
    if (current.reason, current.message, current.resume_at) == (new.reason, new.message, new.resume_at):
        return current  # the same pause again: nothing changes, not even since when
    if current.reason is PauseReason.RATE_LIMIT and new.reason is PauseReason.RATE_LIMIT:
        if current.resume_at and new.resume_at and current.resume_at >= new.resume_at:
            return current
        return replace(new, since=current.since)
    if PAUSE_STRENGTH[new.reason] >= PAUSE_STRENGTH[current.reason]:
        return new
    return current


UNKNOWN_RESET_RETRY = dt.timedelta(minutes=15)


def rate_limit_pause(
    resets_at: dt.datetime | None, limit_type: str | None, margin_seconds: float, now: dt.datetime
) -> Pause:
    kind = {"five_hour": "five-hour", "seven_day": "seven-day"}.get(limit_type or "", limit_type or "usage")
    if resets_at is None:
        # A 429 without a reset time (the CLI also reports plain API rate limits this way):
        # try again later; the usage gate still holds the queue while the meter shows it full.
        resume_at = now + UNKNOWN_RESET_RETRY
        return Pause(
            PauseReason.RATE_LIMIT,
            now,
            resume_at,
            f"{kind} limit reached and no reset time was given; trying again at {resume_at:%H:%M:%S} UTC",
        )
    resume_at = resets_at + dt.timedelta(seconds=margin_seconds)
    return Pause(
        PauseReason.RATE_LIMIT,
        now,
        resume_at,
        f"{kind} limit reached; resets {resets_at:%Y-%m-%d %H:%M} UTC, resuming at {resume_at:%H:%M:%S} UTC",
    )


def limited_window(paused: Pause | None) -> Literal["five_hour", "seven_day"] | None:
    """The usage window a usage-limit pause holds full until it resumes, read back from the words
    `rate_limit_pause` wrote; a limit of no known kind counts against the five-hour window, as
    `with_rejection` counts it."""
    if paused is None or paused.reason is not PauseReason.RATE_LIMIT:
        return None
    return "seven_day" if paused.message.startswith("seven-day") else "five_hour"


MAX_REASON_CHARS = 500  # a pause's text is shown in a banner and kept in queue.json


def manual_pause(reason_text: str | None, now: dt.datetime) -> Pause:
    text = one_line(reason_text or "", MAX_REASON_CHARS)
    return Pause(PauseReason.MANUAL, now, None, text or "paused by the user")


def disk_pause(path: str, error: str, now: dt.datetime) -> Pause:
    return Pause(
        PauseReason.DISK,
        now,
        None,
        f"cannot write {path}: {error}. Running agents go on; new runs start again by themselves "
        "once Overnight can write there (free some space, or fix the permissions)",
    )


def setup_pause(command: str, now: dt.datetime) -> Pause:
    """The agent command is neither a name on PATH nor a path to an executable file."""
    return Pause(PauseReason.SETUP, now, None,
                 f"the agent command {command!r} is not found (not on PATH, and not an executable file) — {AGENT_FIX}; "
                 "the queue starts by itself once it is there")


def after_agent_check(paused: Pause | None, command: str, found: bool, now: dt.datetime) -> Pause | None:
    """The pause after looking for the agent command: a setup pause while it is missing (unless
    a stronger pause stands), none once it is found again; any other pause stays as it is."""
    if not found:
        return pause_with(paused, setup_pause(command, now))
    if paused is not None and paused.reason is PauseReason.SETUP:
        return None
    return paused


def resume_due(paused: Pause | None, now: dt.datetime) -> bool:
    return paused is not None and paused.resume_at is not None and now >= paused.resume_at


def after_good_poll(paused: Pause | None) -> Pause | None:
    """A good poll ends an auth or network pause."""
    if paused is not None and paused.reason in (PauseReason.AUTH, PauseReason.NETWORK):
        return None
    return paused


def with_rejection(usage: Usage, limit_type: str | None, resets_at: dt.datetime | None) -> Usage:
    """An agent's `rate_limit_event` rejected is the freshest reading there is: that window is
    full until it resets. Without a reset time it says nothing lasting (the pause retries)."""
    if resets_at is None:
        return usage
    full = Window(100.0, resets_at)
    if limit_type == "seven_day":
        return replace(usage, seven_day=full)
    return replace(usage, five_hour=full)
