"""What a run's events and its ending mean: `classify` gives the run's `Outcome`."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum, unique

from app.core import limits
from app.core.stream import AssistantText, Event, Init, RateLimit, Result, Unparsed
from app.core.text import one_line, pluralize

# ---------------------------------------------------------------------------------------------
# What classification needs from a run's events


@dataclass
class RunSummary:
    """Accumulates, event by event, what `classify` needs to know about one run."""

    result: Result | None = None  # the first successful result, else the last one
    rejected: RateLimit | None = None  # the last rate_limit_event with status "rejected"
    limit_message: str | None = None  # the first limit sentence printed by the CLI itself
    skipped: int = 0
    session_id: str | None = None  # from the init event
    api_key_source: str | None = None  # from the init event: the credential the run bills

    def observe(self, event: Event) -> None:
        match event:
            case Init():
                self.session_id = event.session_id or self.session_id
                self.api_key_source = event.api_key_source or self.api_key_source
            case Result():
                if self.result is None or self.result.is_error:
                    self.result = event
                if event.is_error:
                    self._look_for_limit_message(event.text)
            case RateLimit(status="rejected"):
                self.rejected = event
            case AssistantText(synthetic=True):
                self._look_for_limit_message(event.text)
            case Unparsed():
                self.skipped += 1
                self._look_for_limit_message(event.text)

    def _look_for_limit_message(self, text: str) -> None:
        if self.limit_message is None:
            self.limit_message = limits.find_limit_message(text)


# ---------------------------------------------------------------------------------------------
# The outcome


@unique
class StopReason(StrEnum):
    """Why Overnight stopped a run; queue.json keeps it while the run ends."""

    CANCEL = "cancel"  # the user cancelled it
    SHUTDOWN = "shutdown"  # the user quit and chose to stop the agents
    INTERNAL = "internal"  # Overnight lost track of the run and killed it
    POST_RESULT = "post_result"  # a watchdog: still alive long after its result
    IDLE = "idle"  # a watchdog: no output for too long
    MAX_DURATION = "max_duration"  # a watchdog: running for too long
    SPEND = "spend"  # the spend guard: its agent would be billed per token (docs/BEHAVIOUR.md section 15)


WATCHDOGS = frozenset({StopReason.POST_RESULT, StopReason.IDLE, StopReason.MAX_DURATION})


@unique
class OutcomeKind(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    RATE_LIMITED = "rate_limited"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ExitInfo:
    returncode: int | None  # negative: killed by signal N; None: unknown (not our child)
    watchdog: StopReason | None = None  # the watchdog that stopped it, if one did
    cancelled: bool = False
    spend_guard: bool = False  # the spend guard stopped it
    spawn_error: str | None = None
    stderr_tail: str = ""


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    reason: str
    resets_at: datetime | None = None
    limit_type: str | None = None
    spawn_error: bool = False


@dataclass(frozen=True)
class _LimitHit:
    resets_at: datetime | None
    limit_type: str | None
    reason: str


_WATCHDOG_REASONS = {
    StopReason.IDLE: "stopped by the idle watchdog: no output for longer than watchdog.idle",
    StopReason.MAX_DURATION: "stopped by the max_duration watchdog: ran longer than watchdog.max_duration",
}

_REASON_KEEP = 300


def classify(summary: RunSummary, exit: ExitInfo, now: datetime, local_tz: tzinfo) -> Outcome:
    """The run's outcome: rate_limited, completed, cancelled (by the user or the spend guard), else failed."""
    limit = _limit_hit(summary, exit.stderr_tail, now, local_tz)
    result = summary.result
    # After a success the work is done (the CLI may go on in overage after a rejected event):
    # running it again would run it twice, so the limit only pauses the queue.
    if result is not None and not result.is_error:
        return _completed(result, exit, limit)
    if limit is not None:
        return Outcome(OutcomeKind.RATE_LIMITED, limit.reason, limit.resets_at, limit.limit_type)
    if exit.cancelled:
        return Outcome(OutcomeKind.CANCELLED, "cancelled by the user")
    if exit.spend_guard:
        return Outcome(OutcomeKind.CANCELLED, f"stopped at once: it would be billed per token through "
                                              f"{summary.api_key_source or 'an API key'} instead of the subscription")
    if exit.spawn_error:
        return Outcome(OutcomeKind.FAILED, exit.spawn_error, spawn_error=True)
    return Outcome(OutcomeKind.FAILED, _failure_reason(summary, exit))


def _limit_hit(
    summary: RunSummary, stderr_tail: str, now: datetime, local_tz: tzinfo
) -> _LimitHit | None:
    message = summary.limit_message or limits.find_limit_message(stderr_tail)
    rejected = summary.rejected
    result = summary.result
    got_429 = result is not None and result.is_error and result.api_error_status == 429
    if rejected is None and message is None and not got_429:
        return None
    resets_at = rejection_reset(rejected, now) if rejected else None
    if resets_at is None and message is not None:
        resets_at = limits.reset_from_text(message, now, local_tz)
    limit_type = rejected.limit_type if rejected else None
    if limit_type is None and message is not None:
        limit_type = limits.limit_kind_from_text(message)
    return _LimitHit(resets_at, limit_type, _limit_reason(message, limit_type, resets_at))


def rejection_reset(event: RateLimit, now: datetime) -> datetime | None:
    """When the window a `rate_limit_event` reports resets, if the CLI said so plausibly."""
    return limits.plausible_reset(event.stated_reset(), now)


def _limit_reason(message: str | None, limit_type: str | None, resets_at: datetime | None) -> str:
    if message is not None:
        return one_line(message, _REASON_KEEP)
    kind = f" ({limit_type})" if limit_type else ""
    when = f", resets {resets_at.isoformat()}" if resets_at else ", reset time unknown"
    return f"usage limit reached{kind}{when}"


def _completed(result: Result, exit: ExitInfo, limit: _LimitHit | None) -> Outcome:
    turns = f", {pluralize(result.num_turns, 'turn')}" if result.num_turns is not None else ""
    reason = f"result: {result.subtype}{turns}"
    if exit.watchdog == StopReason.POST_RESULT:
        reason += "; the agent did not exit after its result and was stopped"
    if limit is None:
        return Outcome(OutcomeKind.COMPLETED, reason)
    return Outcome(OutcomeKind.COMPLETED, f"{reason}; then {limit.reason}", limit.resets_at, limit.limit_type)


def _failure_reason(summary: RunSummary, exit: ExitInfo) -> str:
    if summary.result is not None:
        return _error_result_reason(summary.result)
    if exit.watchdog is not None:
        ended = _WATCHDOG_REASONS.get(exit.watchdog, f"stopped by the {exit.watchdog} watchdog")
        return f"{ended}, without a result"
    return _exit_reason(exit.returncode) + _stderr_hint(exit.stderr_tail)


def _error_result_reason(result: Result) -> str:
    if result.subtype and result.subtype != "success":
        detail = "; ".join(result.errors) or result.text
        return one_line(f"{result.subtype}: {detail}" if detail else result.subtype, _REASON_KEEP)
    status = f" (API status {result.api_error_status})" if result.api_error_status else ""
    return one_line(f"the agent reported an error{status}: {result.text or 'no message'}", _REASON_KEEP)


def _exit_reason(returncode: int | None) -> str:
    if returncode is None:
        return "interrupted: the run ended without a result (exit status unknown)"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)} without a result"
    return f"exited with code {returncode} without a result"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stderr_hint(stderr_tail: str) -> str:
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    return f": {one_line(lines[-1], _REASON_KEEP)}" if lines else ""
