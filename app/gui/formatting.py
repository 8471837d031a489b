"""How values read on screen: times (in the user's locale), durations, costs and sizes in words,
the engine's names (pause reasons, fire policies, result subtypes, limit kinds) in plain words, a
job's status and reason as the queue and the detail pane say them, and the colours of statuses and
errors. Everything the user reads about these goes through here, so each reads the same everywhere."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping

from PySide6.QtCore import QDate, QLocale, QTime

from app.core.batching import Waiting
from app.core.gate import Decision, Open, closed_why
from app.core.queue import InvestigationStatus, Job, PauseReason, Status
from app.core.text import plain_names, session_words
from app.engine.api import EngineEvent

# Mid-tone colours: readable as icons and text accents on light and dark palettes alike.
STATUS_COLORS: Mapping[Status, str] = {
    Status.PENDING: "#8a94a6",
    Status.RUNNING: "#3b82f6",
    Status.COMPLETED: "#22a55a",
    Status.FAILED: "#e5484d",
    Status.INVALID: "#e08a00",
    Status.CANCELLED: "#9a8c7a",
    Status.SKIPPED: "#a07ce0",
    Status.NEEDS_REVIEW: "#d9a400",
}
ERROR_COLOR = "#e5484d"
WARNING_COLOR = "#e08a00"


# ---------------------------------------------------------------- words for values


def format_duration(seconds: float) -> str:
    """A span in words, as precise as it matters: "45 s", "3 min 05 s", "22 min", "1 h 12 min", "2 d 3 h"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 10:
        return f"{minutes} min {seconds:02d} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_clock(moment: dt.datetime, now: dt.datetime) -> str:
    """`moment` in the computer's time zone, as the user's locale writes a time (24 h or 12 h):
    the time alone on `now`'s day, the weekday before it within the week, else the date."""
    local, today = moment.astimezone(), now.astimezone().date()
    locale = QLocale()
    clock = locale.toString(QTime(local.hour, local.minute), QLocale.FormatType.ShortFormat)
    if local.date() == today:
        return clock
    if abs((local.date() - today).days) < 7:
        return f"{locale.dayName(local.isoweekday(), QLocale.FormatType.ShortFormat)} {clock}"
    date = locale.toString(QDate(local.year, local.month, local.day), QLocale.FormatType.ShortFormat)
    return f"{date} {clock}"


def format_countdown(moment: dt.datetime | None, now: dt.datetime) -> str:
    """"14:05 (in 2 h 5 min)"; "now" once the moment has passed; "" when unknown."""
    if moment is None:
        return ""
    left = (moment - now).total_seconds()
    if left <= 0:
        return "now"
    return f"{format_clock(moment, now)} (in {format_duration(left)})"


def format_cost(cost: float | None) -> str:
    if cost is None:
        return ""
    return f"${cost:.2f}" if cost >= 0.01 else f"${cost:.4f}"


def format_size(size: int) -> str:
    if size < 1000:
        return f"{size} chars"
    if size < 1_000_000:
        return f"{size / 1000:.1f} k chars"
    return f"{size / 1_000_000:.1f} M chars"


# ---------------------------------------------------------------- the engine's names in words

PAUSE_WORDS: Mapping[PauseReason, tuple[str, str]] = {  # (a few words, the whole story)
    PauseReason.MANUAL: ("by you", "you paused the queue"),
    PauseReason.RATE_LIMIT: ("usage limit", "Claude reported that a usage limit was reached"),
    PauseReason.AUTH: ("credentials refused", "the usage meter refused the Claude credentials"),
    PauseReason.NETWORK: ("usage meter unreachable", "the usage meter has been unreachable for 30 minutes"),
    PauseReason.STATE: ("queue file unreadable", "queue.json could not be read"),
    PauseReason.DISK: ("cannot save", "Overnight cannot write to its home folder"),
    PauseReason.SETUP: ("Claude Code not found", "the agent command was not found, so no run can start"),
    PauseReason.SPEND: ("API billing", "a run would be billed per token, or today's API spend limit is reached"),
}

POLICY_WORDS: Mapping[str, tuple[str, str]] = {  # fire policy: (a few words, the whole story)
    "when-available": ("as usage allows", "Runs start whenever usage is under the thresholds"),
    "on-reset": ("after the reset", "Runs start once, shortly after the next five-hour usage reset"),
    "manual": ("when you say", "Runs start only when you choose Start next batch now"),
}

# Why no new run starts, the whole story, by the kind of the engine's verdict ({reason}: the
# engine's own reason in plain words, which tells the other kinds best).
GATE_STORIES: Mapping[str, str] = {
    "paused": "the queue is paused: {reason}",
    "manual": "the fire policy is manual: runs start only when you choose Start next batch now",
    "unknown": "the usage meter has no reading and Settings say to wait until it has one"
               " (Usage meter → When unknown: hold)",
    "on_reset": "the fire policy is on-reset: runs start once, shortly after the next five-hour usage reset",
}

# 2026-12-03T19:00:00+00:00, 2026-12-03 19:00 UTC, 19:12:00 UTC: moments the engine writes in UTC.
_UTC_MOMENT = re.compile(
    r"(?:(\d{4}-\d\d-\d\d)[T ])?(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(?:Z|[+-]00:00| UTC)")


def plain_words(text: str, now: dt.datetime) -> str:
    """`text` from the engine with its internal names in words and its UTC times on the user's clock."""
    return _UTC_MOMENT.sub(lambda found: _utc_clock(found, now), plain_names(text))


def _utc_clock(found: re.Match[str], now: dt.datetime) -> str:
    day = found.group(1) or f"{now.astimezone(dt.UTC):%Y-%m-%d}"
    return format_clock(dt.datetime.fromisoformat(f"{day}T{found.group(2)}+00:00"), now)


def gate_words(decision: Decision, now: dt.datetime) -> tuple[str, str, str]:
    """Whether new runs start: in a few words ("Starting runs: no — usage is unknown"), in full, and
    in the fewest words, for a narrow window."""
    if isinstance(decision, Open):
        yes = "Starting runs: yes"
        return yes, "New runs start as soon as there is work and a free slot.", yes
    reason = plain_words(decision.reason, now)
    story = GATE_STORIES.get(decision.kind, "{reason}").replace("{reason}", reason)
    until = f" · expected {format_clock(decision.until, now)}" if decision.until else ""
    why = plain_words(closed_why(decision), now)
    return f"Starting runs: no — {why}{until}", f"No new run starts: {story}{until}.", "Starting runs: no"


def error_text(event: EngineEvent) -> str:
    """An error the engine reported, as the window says it: its message in plain words, else what
    went wrong; the event's own fields (where, trace) are for the log, not for the user."""
    now = dt.datetime.now(dt.UTC)
    message = event.fields.get("message") or event.fields.get("error")
    if message:
        return plain_words(str(message), now)
    return "Overnight ran into an internal error; the log has the details"


# ---------------------------------------------------------------- what a job row shows


def folder_text(job: Job) -> str:
    """Where a job works: its cwd, or for a worktree job its repository and branch ("app · overnight/slug")."""
    workspace = job.workspace
    if workspace is None:
        return job.cwd
    return f"{os.path.basename(workspace.repo.rstrip(os.sep)) or workspace.repo} · {workspace.branch}"


def started_at(job: Job) -> dt.datetime | None:
    if job.current is not None:
        return job.current.started_at
    if job.last is not None:
        return job.last.finished_at - dt.timedelta(milliseconds=job.last.duration_ms)
    return None


def duration_seconds(job: Job, now: dt.datetime) -> float | None:
    if job.current is not None:
        return (now - job.current.started_at).total_seconds()
    if job.last is not None:
        return job.last.duration_ms / 1000
    return None


def duration_text(job: Job, now: dt.datetime) -> str:
    """Elapsed time with the ETA while running; the last run's duration after; the estimate before."""
    estimate = job.estimate_minutes * 60 if job.estimate_minutes is not None else None
    seconds = duration_seconds(job, now)
    if job.current is not None and seconds is not None:
        elapsed = format_duration(seconds)
        if estimate is None:
            return elapsed
        if seconds <= estimate:
            return f"{elapsed} · ETA {format_duration(estimate - seconds)}"
        return f"{elapsed} · {format_duration(seconds - estimate)} over estimate"
    if seconds is not None:
        return format_duration(seconds)
    if estimate is not None and job.status is Status.PENDING:
        return f"~{format_duration(estimate)} estimated"
    return ""


def job_cost(job: Job) -> float | None:
    if job.current is not None and job.current.result is not None:
        return job.current.result.total_cost_usd
    return job.last.cost_usd if job.last is not None else None


def job_turns(job: Job) -> int | None:
    if job.current is not None and job.current.result is not None:
        return job.current.result.num_turns
    return job.last.num_turns if job.last is not None else None


def status_text(job: Job) -> str:
    """The status, with what is still happening to the job: a run being stopped, an investigation."""
    words = job.status.value.replace("_", " ")  # "needs review"
    if job.current is not None and job.current.stopping:
        return f"{words} (stopping)"
    if job.investigation is not None and job.investigation.status in (InvestigationStatus.WAITING,
                                                                      InvestigationStatus.RUNNING):
        return f"{words} (investigating)"
    return words


def reason_text(job: Job, waiting: Waiting | None, now: dt.datetime) -> str:
    """What the reason column says: the error and its fix, why a pending job waits and until when
    (`waiting`, as the engine's snapshot says it), or the last reason, in plain words; then the
    earlier run whose session its run continues (docs/BEHAVIOUR.md section 12)."""
    if job.status is Status.INVALID and job.error is not None:
        return f"{job.error.problem} — {job.error.fix}"
    if waiting is not None:
        expected = f" · expected {format_clock(waiting.until, now)}" if waiting.until else ""
        said = plain_words(waiting.why, now) + expected
    else:
        said = plain_words(job.reason, now)
    return " · ".join(part for part in (said, _session_text(job)) if part)


def _session_text(job: Job) -> str:
    """The earlier run whose agent session the job's run continues, or its next run will."""
    resumed_from = job.current.resumed_from if job.current is not None else None
    will_continue = job.resume.run_id if job.resume is not None and job.status is Status.PENDING else None
    return session_words(resumed_from, will_continue)
