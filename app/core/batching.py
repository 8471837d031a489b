"""Which jobs start now (docs/BEHAVIOUR.md section 5): ordered groups under a concurrency cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from app.core.gate import Closed, Decision, closed_why
from app.core.queue import InvestigationStatus, Job, Status
from app.core.reconcile import dependencies_met


def is_runnable(jobs: Mapping[str, Job], job: Job) -> bool:
    return (
        job.status is Status.PENDING
        and not job.is_busy
        and not job.file_gone
        and dependencies_met(jobs, job)
    )


def pick_next(jobs: Mapping[str, Job], cap: int) -> list[str]:
    """The slugs to start now, in start order.

    G is the lowest group with a runnable job. G's jobs start, up to the cap, unless a
    job of a group lower than G still runs (ordered waves). A running job of a group
    above G does not hold G back: a lower-numbered PRD that arrives after a higher group
    started runs at once beside it (the late-arrival rule: otherwise it would starve
    until the whole higher group drained).
    """
    running_groups = [job.group for job in jobs.values() if job.status is Status.RUNNING]
    free = cap - len(running_groups)
    if free <= 0:
        return []
    runnable = [job for job in jobs.values() if is_runnable(jobs, job)]
    if not runnable:
        return []
    lowest = min(job.group for job in runnable)
    if any(group < lowest for group in running_groups):
        return []
    wave = sorted((job for job in runnable if job.group == lowest), key=lambda job: job.slug)
    return [job.slug for job in wave[:free]]


def pick_investigations(jobs: Mapping[str, Job], max_concurrent: int) -> list[str]:
    """Failed jobs whose investigation may start now; investigations do not use the cap."""
    running = sum(
        1
        for job in jobs.values()
        if job.investigation is not None and job.investigation.status is InvestigationStatus.RUNNING
    )
    free = max_concurrent - running
    if free <= 0:
        return []
    waiting = sorted(
        (job.investigation.failed_run_id, job.slug)
        for job in jobs.values()
        if job.investigation is not None and job.investigation.status is InvestigationStatus.WAITING
    )
    return [slug for _, slug in waiting[:free]]


@dataclass(frozen=True, slots=True)
class Waiting:
    """Why a pending job does not start yet, in words for the queue table, and when that is
    expected to change (None: not known, or up to other jobs)."""

    why: str
    until: dt.datetime | None = None


def waiting_reasons(jobs: Mapping[str, Job], gate: Decision, cap: int) -> dict[str, Waiting]:
    """Why each pending job would not start in the next scheduling pass, by slug (absent: it would
    start, or it is not pending): a dependency, its investigation, an earlier group first
    (pick_next), the gate, the cap. One pass over the queue, whatever its size."""
    running = [job.group for job in jobs.values() if job.status is Status.RUNNING]
    runnable = [job.group for job in jobs.values() if is_runnable(jobs, job)]
    earliest = min(running + runnable, default=None)
    reasons = {}
    for job in jobs.values():
        if job.status is not Status.PENDING:
            continue
        waiting = _held(jobs, job) or _queued(jobs, job, earliest, gate, (len(running), cap))
        if waiting is not None:
            reasons[job.slug] = waiting
    return reasons


def _held(jobs: Mapping[str, Job], job: Job) -> Waiting | None:
    """What holds a pending job whatever the rest of the queue does: a dependency, its investigation."""
    unmet = [dep for dep in job.depends_on if dep not in jobs or jobs[dep].status is not Status.COMPLETED]
    if unmet:
        dep = unmet[0]
        other = jobs.get(dep)
        if other is None:
            return Waiting(f"waiting for {dep}, which is not in the queue")
        if other.status is Status.NEEDS_REVIEW:
            return Waiting(f"waiting for {dep}, which needs your review")
        settled = other.status not in (Status.PENDING, Status.RUNNING) and not other.is_busy
        return Waiting(f"waiting for {dep} ({other.status.value}: it must complete first)" if settled
                       else f"waiting for {dep}")
    if job.is_busy:
        return Waiting("waiting for its investigation to end")
    return None


def _queued(jobs: Mapping[str, Job], job: Job, earliest: int | None, gate: Decision,
            load: tuple[int, int]) -> Waiting | None:
    """What holds a runnable job back: an earlier group, the gate, the cap (`load`: running, cap)."""
    if not is_runnable(jobs, job):
        return None
    if earliest is not None and earliest < job.group:
        return Waiting(f"waiting for group {earliest}")
    if isinstance(gate, Closed):
        return Waiting(f"waiting: {closed_why(gate)}", gate.until)
    running, cap = load
    if 0 < cap <= running:  # a cap of 0: not known yet
        return Waiting(f"waiting for a free slot ({running} of {cap} running)")
    return None


def blocked_for_good(jobs: Mapping[str, Job], job: Job) -> bool:
    """A pending job whose dependency ended without completing (or waits for the user's review)
    can never run by itself."""
    for dep in job.depends_on:
        other = jobs.get(dep)
        if other is None or other.status in (Status.FAILED, Status.CANCELLED, Status.SKIPPED, Status.INVALID,
                                             Status.NEEDS_REVIEW):
            if other is None or not other.is_busy:
                return True
        elif other.status is Status.PENDING and blocked_for_good(jobs, other):
            return True
    return False


def is_idle(jobs: Mapping[str, Job]) -> bool:
    """Nothing runs, nothing investigates or waits to, and nothing pending can still run."""
    for job in jobs.values():
        if job.status is Status.RUNNING or job.is_busy:
            return False
        if job.investigation is not None and job.investigation.status is InvestigationStatus.WAITING:
            return False
        if job.status is Status.PENDING and not blocked_for_good(jobs, job):
            return False
    return True
