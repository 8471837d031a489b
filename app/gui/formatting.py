"""How values read on screen: times, durations, costs and sizes in words, a job's status and
reason as the queue and the detail pane say them, and the colours of statuses and errors."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from app.core.queue import InvestigationStatus, Job, Status
from app.core.times import local_time

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


# ---------------------------------------------------------------- words for values


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_countdown(moment: dt.datetime | None, now: dt.datetime) -> str:
    """"in 2 h 05 min (14:05)"; "now" once the moment has passed; "" when unknown."""
    if moment is None:
        return ""
    left = (moment - now).total_seconds()
    if left <= 0:
        return "now"
    return f"in {format_duration(left)} ({local_time(moment, now)})"



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
    if job.current is not None and job.current.stopping:
        return f"{job.status.value} (stopping)"
    if job.investigation is not None and job.investigation.status in (InvestigationStatus.WAITING,
                                                                      InvestigationStatus.RUNNING):
        return f"{job.status.value} (investigating)"
    return job.status.value


def reason_text(job: Job, waiting: str | None) -> str:
    """What the reason column says: the error and its fix, why a pending job waits (`waiting`, as
    the engine's snapshot says it), or the last reason."""
    if job.status is Status.INVALID and job.error is not None:
        return f"{job.error.problem} — {job.error.fix}"
    return waiting or job.reason
