"""Questions about the whole queue (docs/BEHAVIOUR.md sections 4 and 6): is there work, does it
need its user, which finished rows may leave.

"Is anything left?" has four answers, each for its own question:
- `has_work`: something runs or is pending (the on-reset fire policy waits for work);
- `alive`: how many jobs have a run or an investigation alive (quitting asks about these);
- `has_anything_left`: something runs, is pending, or has an investigation to run (the tray's
  "queue finished" waits for none);
- `batching.is_idle`: nothing can happen any more without the user (`--until-idle` stops).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from app.core import queue as q
from app.core.queue import InvestigationStatus, Job, PauseReason, QueueState, Status

# Pauses that wait for the user (the others end by themselves: a reset, a poll, a write). A
# setup pause ends by itself too, but only once the user has installed the agent or named it.
USER_PAUSES = (PauseReason.MANUAL, PauseReason.AUTH, PauseReason.STATE, PauseReason.SETUP)


def has_work(jobs: Mapping[str, Job]) -> bool:
    """Something runs or waits to run (what the `on_reset` fire policy waits for)."""
    return any(job.status in (Status.PENDING, Status.RUNNING) for job in jobs.values())


def alive(jobs: Mapping[str, Job]) -> int:
    """Jobs with a process alive: a run, or an investigation."""
    return sum(1 for job in jobs.values() if job.is_busy)


def has_anything_left(jobs: Mapping[str, Job]) -> bool:
    """Something runs, is pending, or has an investigation alive or waiting to start."""
    return any(
        job.is_busy
        or job.status is Status.PENDING
        or (job.investigation is not None and job.investigation.status is InvestigationStatus.WAITING)
        for job in jobs.values()
    )


def needs_user(
    state: QueueState, fire_policy: str, when_unknown: str, last_poll_kind: str | None
) -> str | None:
    """Why the queue cannot move on without its user, or None (`last_poll_kind`: how the usage
    meter's last poll ended, e.g. "no_credentials")."""
    paused = state.paused
    if paused is not None and paused.reason in USER_PAUSES:
        return f"paused ({paused.reason.value}): {paused.message}"
    if not any(job.status is Status.PENDING for job in state.jobs.values()):
        return None
    if fire_policy == "manual":
        return "fire policy is manual: runs start only with Start next batch now (overnight tick)"
    if not state.usage.known and when_unknown == "hold" and last_poll_kind == "no_credentials":
        return "usage is unknown (no credentials) and usage.when_unknown is hold"
    return None


def to_prune(jobs: Mapping[str, Job], cutoff: dt.datetime) -> list[Job]:
    """Finished rows last changed before `cutoff` that nothing unfinished depends on and no
    investigation still works on: they leave queue.json (their PRDs are archived)."""
    needed = {dep for job in jobs.values() if job.status not in q.TERMINAL for dep in job.depends_on}
    return [
        job
        for job in jobs.values()
        if job.status in q.TERMINAL and not job.is_busy and job.slug not in needed and job.updated_at < cutoff
    ]
