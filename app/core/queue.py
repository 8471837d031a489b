"""The queue's values: `Job`, `QueueState`, pauses, and the only code that changes a status.

Every status change goes through `_move`, which refuses transitions that are not in
`ALLOWED`, and keeps the invariant that a job is `running` exactly when it has a
`current` run. How these values are written in queue.json is `app.core.queue_json`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from app.core.outcome import OutcomeKind, RunSummary, StopReason
from app.core.prd import Prd, PrdError, group_from_name, slug_of
from app.core.stream import RateLimit, Result
from app.core.usage import UNKNOWN, Usage
from app.core.verify import VERIFYING, VerifyResult
from app.core.workspace import SHARED, Workspace


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INVALID = "invalid"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    NEEDS_REVIEW = "needs_review"  # ended with a result Overnight could not accept on its own


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})
RERUNNABLE = TERMINAL | {Status.NEEDS_REVIEW}  # finished, or waiting for the user's review

ALLOWED: Mapping[Status | None, frozenset[Status]] = {
    None: frozenset({Status.PENDING, Status.INVALID}),
    Status.PENDING: frozenset({Status.RUNNING, Status.INVALID, Status.CANCELLED, Status.SKIPPED}),
    Status.INVALID: frozenset({Status.PENDING}),
    # running → pending: a usage limit, or an interrupted run retried once.
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.PENDING,
                               Status.NEEDS_REVIEW}),
    # needs_review → completed (accepted), cancelled (discarded), pending (re-run).
    Status.NEEDS_REVIEW: frozenset({Status.COMPLETED, Status.CANCELLED, Status.PENDING}),
    Status.FAILED: frozenset({Status.PENDING, Status.INVALID, Status.SKIPPED}),
    Status.COMPLETED: frozenset({Status.PENDING}),
    Status.CANCELLED: frozenset({Status.PENDING}),
    Status.SKIPPED: frozenset({Status.PENDING}),
}


class PauseReason(StrEnum):
    MANUAL = "manual"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    NETWORK = "network"
    STATE = "state"
    DISK = "disk"  # a write failed (no space, I/O error, permission); clears once a test write succeeds
    SETUP = "setup"  # the agent command is not found; clears once it is
    SPEND = "spend"  # a run would bill per token (an API key), or the day's API spend is reached


# A new pause replaces the current one only if it is at least as strong: a usage
# limit must not clear a pause the user asked for. A missing agent outranks the pauses
# the usage meter makes (nothing can run until it is there) but never replaces one the
# user or a broken home made.
PAUSE_STRENGTH = {
    PauseReason.NETWORK: 0,
    PauseReason.RATE_LIMIT: 1,
    PauseReason.AUTH: 2,
    PauseReason.SETUP: 3,
    PauseReason.SPEND: 4,
    PauseReason.DISK: 5,
    PauseReason.MANUAL: 6,
    PauseReason.STATE: 7,
}


class IllegalTransition(ValueError):
    def __init__(self, slug: str, current: Status | None, to: Status) -> None:
        super().__init__(f"{slug}: a job cannot go from {current or 'nothing'} to {to}")
        self.slug, self.current, self.to = slug, current, to


@dataclass(frozen=True, slots=True)
class CurrentRun:
    run_id: str
    started_at: dt.datetime
    log_path: str
    content_hash: str
    pid: int | None = None
    pid_create_time: float | None = None
    result_at: dt.datetime | None = None
    log_offset: int = 0
    # What classification has seen up to log_offset, so a restarted engine resumes there.
    result: Result | None = None
    rejected: RateLimit | None = None
    limit_message: str | None = None
    skipped_lines: int = 0
    stopping: StopReason | None = None  # set while Overnight is stopping it
    session_id: str | None = None  # the agent's session (its init event; the one it resumes, from the start)
    resumed_from: str | None = None  # the run whose session this run continues
    api_key_source: str | None = None  # the credential the agent bills (its init event): "none" is the subscription

    def summary(self) -> RunSummary:
        return RunSummary(
            result=self.result,
            rejected=self.rejected,
            limit_message=self.limit_message,
            skipped=self.skipped_lines,
            session_id=self.session_id,
            api_key_source=self.api_key_source,
        )


@dataclass(frozen=True, slots=True)
class LastRun:
    run_id: str
    outcome: OutcomeKind
    exit_code: int | None
    finished_at: dt.datetime
    duration_ms: int
    cost_usd: float | None
    num_turns: int | None
    reason: str
    session_id: str | None = None
    resumed_from: str | None = None  # the run whose session it continued


@dataclass(frozen=True, slots=True)
class Resume:
    """The session a job continues when it runs again (docs/BEHAVIOUR.md section 15)."""

    run_id: str  # the run that was cut short
    session_id: str
    why: str  # how it was cut short, for the continuation prompt


MAX_RESUMES = 3  # resumed runs of one job in a row; the next cut short fails it
EARLIER_RUNS_KEPT = 20  # a job's runs before `last` that its record keeps


class InvestigationStatus(StrEnum):
    WAITING = "waiting"  # for an investigation slot
    RUNNING = "running"
    WROTE_FIX_PLAN = "wrote_fix_plan"
    NO_FIX_PLAN = "no_fix_plan"
    HELD = "held"  # its fix plan waits under fix-plans/ for the user's approval
    DISCARDED = "discarded"  # the user discarded the held fix plan (kept under fix-plans/discarded/)


@dataclass(frozen=True, slots=True)
class Investigation:
    status: InvestigationStatus
    fix_plan_slug: str
    failed_run_id: str
    run_id: str | None = None
    pid: int | None = None
    pid_create_time: float | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    log_path: str | None = None
    reason: str = ""
    plan_path: str | None = None  # where a held fix plan waits, or where a discarded one was put


@dataclass(frozen=True, slots=True)
class Job:
    slug: str
    title: str
    cwd: str
    group: int
    status: Status
    created_at: dt.datetime
    updated_at: dt.datetime
    content_hash: str
    estimate_minutes: float | None = None
    model: str = ""
    depends_on: tuple[str, ...] = ()
    verify_commands: tuple[str, ...] | None = None  # the PRD's `verify`; None: config.workspace.verify
    reason: str = ""
    runs: int = 0
    current: CurrentRun | None = None
    last: LastRun | None = None
    fix_plan_slug: str | None = None
    investigation_of: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    error: PrdError | None = None
    investigation: Investigation | None = None
    interrupted_retries: int = 0
    file_gone: bool = False  # the PRD was removed while something still runs for it
    workspace_mode: str = SHARED  # the PRD's `workspace`
    base: str | None = None  # the PRD's `base`
    expect_changes: bool = True  # the PRD's `expectChanges`
    workspace: Workspace | None = None  # the worktree of its latest run, in `worktree` mode
    verify: VerifyResult | None = None  # the last run's verify commands, None when none ran
    resume: Resume | None = None  # its next run continues this session
    resumes: int = 0  # resumed runs since its last fresh start
    earlier_runs: tuple[LastRun, ...] = ()  # its runs before `last`, oldest first (EARLIER_RUNS_KEPT at most)

    @property
    def is_busy(self) -> bool:
        """A run or an investigation is alive for this job."""
        return self.current is not None or (
            self.investigation is not None and self.investigation.status is InvestigationStatus.RUNNING
        )


@dataclass(frozen=True, slots=True)
class Pause:
    reason: PauseReason
    since: dt.datetime
    resume_at: dt.datetime | None
    message: str


@dataclass(frozen=True, slots=True)
class EngineInfo:
    pid: int
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OnReset:
    """The `on-reset` fire policy's latch: the moment it fires, and whether it has."""

    target: dt.datetime | None = None
    active: bool = False


@dataclass(frozen=True, slots=True)
class QueueState:
    jobs: Mapping[str, Job] = field(default_factory=dict)
    paused: Pause | None = None
    last_tick_at: dt.datetime | None = None
    engine: EngineInfo | None = None
    on_reset: OnReset = OnReset()
    usage: Usage = UNKNOWN  # the last reading, so a restarted engine is careful from its first second


# ---------------------------------------------------------------- status changes


def _move(job: Job, to: Status, now: dt.datetime, **changes: Any) -> Job:
    if to not in ALLOWED[job.status]:
        raise IllegalTransition(job.slug, job.status, to)
    moved = replace(job, status=to, updated_at=now, **changes)
    if (moved.status is Status.RUNNING) != (moved.current is not None):
        raise IllegalTransition(job.slug, job.status, to)
    return moved


def new_job(parsed: Prd | PrdError, name: str, now: dt.datetime, data_hash: str) -> Job:
    """A row for a PRD seen for the first time: `pending` if valid, else `invalid`."""
    if isinstance(parsed, PrdError):
        slug = slug_of(name)
        return Job(
            slug=slug,
            title=slug,
            cwd="",
            group=group_from_name(name),
            status=Status.INVALID,
            created_at=now,
            updated_at=now,
            content_hash=data_hash,
            reason=parsed.one_line(),
            error=parsed,
        )
    return Job(status=Status.PENDING, created_at=now, updated_at=now, **_prd_fields(parsed))


def refresh(job: Job, prd: Prd, now: dt.datetime) -> Job:
    """New metadata from a re-read PRD; the status stays as it is."""
    return replace(job, updated_at=now, error=None, **_prd_fields(prd))


def _prd_fields(prd: Prd) -> dict[str, Any]:
    return {
        "slug": prd.slug,
        "title": prd.title,
        "cwd": prd.cwd,
        "group": prd.group,
        "estimate_minutes": prd.estimate_minutes,
        "model": prd.model,
        "depends_on": prd.depends_on,
        "verify_commands": prd.verify,
        "extra": prd.extra,
        "content_hash": prd.content_hash,
        "workspace_mode": prd.workspace,
        "base": prd.base,
        "expect_changes": prd.expect_changes,
    }


def make_invalid(job: Job, error: PrdError, now: dt.datetime) -> Job:
    if job.status is Status.INVALID:
        return replace(job, reason=error.one_line(), error=error, updated_at=now)
    return _move(job, Status.INVALID, now, reason=error.one_line(), error=error)


def make_pending(job: Job, reason: str, now: dt.datetime) -> Job:
    """Back into the queue by the user or a changed PRD (a fixed PRD, a reset, a re-run): its
    next run starts fresh."""
    return _move(job, Status.PENDING, now, reason=reason, current=None, error=None, resume=None, resumes=0)


def start(job: Job, run: CurrentRun, now: dt.datetime) -> Job:
    return _move(job, Status.RUNNING, now, current=run, reason="", runs=job.runs + 1, verify=None)


def verifying(job: Job, now: dt.datetime) -> Job:
    """Its agent ended `completed`; it stays running while its verify commands run."""
    if job.current is None:
        raise IllegalTransition(job.slug, job.status, Status.RUNNING)
    return replace(job, reason=VERIFYING, updated_at=now)


def unstart(job: Job, reason: str, now: dt.datetime) -> Job:
    """The run `start` recorded never began (its start could not be made durable, or its
    process could not be created): the job waits again, and the run is not counted."""
    return _move(job, Status.PENDING, now, current=None, reason=reason, runs=max(job.runs - 1, 0))


def update_run(job: Job, **changes: Any) -> Job:
    """Progress of the live run (pid, offset, result seen); never its status."""
    if job.current is None:
        raise IllegalTransition(job.slug, job.status, Status.RUNNING)
    return replace(job, current=replace(job.current, **changes))


def finish(job: Job, to: Status, last: LastRun, now: dt.datetime, reason: str | None = None,
           verify: VerifyResult | None = None) -> Job:
    """The run ended: completed, failed, cancelled, needs review, or pending again after a usage
    limit; `verify`: what its verify commands said, if they ran."""
    earlier = (*job.earlier_runs, job.last)[-EARLIER_RUNS_KEPT:] if job.last is not None else job.earlier_runs
    return _move(job, to, now, current=None, last=last, reason=last.reason if reason is None else reason,
                 verify=verify, earlier_runs=earlier)


def cancel_pending(job: Job, now: dt.datetime) -> Job:
    return _move(job, Status.CANCELLED, now, reason="cancelled before it started")


def accept(job: Job, reason: str, now: dt.datetime) -> Job:
    """The user took a `needs_review` job's work as it is: it counts as completed."""
    return _move(job, Status.COMPLETED, now, reason=reason)


def discard_review(job: Job, now: dt.datetime) -> Job:
    """The user threw a `needs_review` job's work away."""
    return _move(job, Status.CANCELLED, now, reason="its work was discarded by the user")


def skip(job: Job, now: dt.datetime) -> Job:
    return _move(job, Status.SKIPPED, now, reason="skipped by the user")
