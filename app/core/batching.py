"""Which jobs start now (docs/BEHAVIOUR.md section 5): ordered groups under a concurrency cap."""

from __future__ import annotations

from collections.abc import Mapping

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


def waiting_reason(jobs: Mapping[str, Job], job: Job) -> str | None:
    """Why a pending job is not runnable, in words for the queue table."""
    if job.status is not Status.PENDING:
        return None
    unmet = [dep for dep in job.depends_on if dep not in jobs or jobs[dep].status is not Status.COMPLETED]
    if unmet:
        dep = unmet[0]
        state = jobs[dep].status.value if dep in jobs else "missing"
        return f"waiting for {dep} ({state})"
    if job.is_busy:
        return "waiting for its investigation to end"
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
