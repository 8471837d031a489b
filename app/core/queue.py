"""The queue's values: `Job`, `QueueState`, pauses, and the only code that changes a status.

Every status change goes through `_move`, which refuses transitions that are not in
`ALLOWED`, and keeps the invariant that a job is `running` exactly when it has a
`current` run. queue.json round-trips through `state_to_json` / `state_from_json`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from app.core.outcome import RunSummary
from app.core.prd import Prd, PrdError, group_from_name, slug_of
from app.core.stream import RateLimit, Result
from app.core.usage import UNKNOWN, Usage, Window

SCHEMA_VERSION = 1


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INVALID = "invalid"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})

ALLOWED: Mapping[Status | None, frozenset[Status]] = {
    None: frozenset({Status.PENDING, Status.INVALID}),
    Status.PENDING: frozenset({Status.RUNNING, Status.INVALID, Status.CANCELLED, Status.SKIPPED}),
    Status.INVALID: frozenset({Status.PENDING}),
    # running → pending: a usage limit, or an interrupted run retried once.
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.PENDING}),
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


# A new pause replaces the current one only if it is at least as strong: a usage
# limit must not clear a pause the user asked for.
PAUSE_STRENGTH = {
    PauseReason.NETWORK: 0,
    PauseReason.RATE_LIMIT: 1,
    PauseReason.AUTH: 2,
    PauseReason.DISK: 3,
    PauseReason.MANUAL: 4,
    PauseReason.STATE: 5,
}


class IllegalTransition(ValueError):
    def __init__(self, slug: str, current: Status | None, to: Status) -> None:
        super().__init__(f"{slug}: a job cannot go from {current or 'nothing'} to {to}")
        self.slug, self.current, self.to = slug, current, to


class QueueFileError(ValueError):
    """queue.json cannot be used as it is; `problem` and `fix` are shown to the user."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} — {fix}")
        self.problem, self.fix = problem, fix


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
    stopping: str | None = None  # why Overnight is stopping it: cancel, post_result, idle, max_duration

    def summary(self) -> RunSummary:
        return RunSummary(
            result=self.result,
            rejected=self.rejected,
            limit_message=self.limit_message,
            skipped=self.skipped_lines,
        )


@dataclass(frozen=True, slots=True)
class LastRun:
    run_id: str
    outcome: str
    exit_code: int | None
    finished_at: dt.datetime
    duration_ms: int
    cost_usd: float | None
    num_turns: int | None
    reason: str


class InvestigationStatus(StrEnum):
    WAITING = "waiting"  # for an investigation slot
    RUNNING = "running"
    WROTE_FIX_PLAN = "wrote_fix_plan"
    NO_FIX_PLAN = "no_fix_plan"


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
        "extra": prd.extra,
        "content_hash": prd.content_hash,
    }


def make_invalid(job: Job, error: PrdError, now: dt.datetime) -> Job:
    if job.status is Status.INVALID:
        return replace(job, reason=error.one_line(), error=error, updated_at=now)
    return _move(job, Status.INVALID, now, reason=error.one_line(), error=error)


def make_pending(job: Job, reason: str, now: dt.datetime) -> Job:
    """Back into the queue: a fixed PRD, a reset, a re-run, a usage limit, an interrupted run."""
    return _move(job, Status.PENDING, now, reason=reason, current=None, error=None)


def start(job: Job, run: CurrentRun, now: dt.datetime) -> Job:
    return _move(job, Status.RUNNING, now, current=run, reason="", runs=job.runs + 1)


def unstart(job: Job, reason: str, now: dt.datetime) -> Job:
    """The run `start` recorded never began (its start could not be made durable, or its
    process could not be created): the job waits again, and the run is not counted."""
    return _move(job, Status.PENDING, now, current=None, reason=reason, runs=max(job.runs - 1, 0))


def update_run(job: Job, **changes: Any) -> Job:
    """Progress of the live run (pid, offset, result seen); never its status."""
    if job.current is None:
        raise IllegalTransition(job.slug, job.status, Status.RUNNING)
    return replace(job, current=replace(job.current, **changes))


def finish(job: Job, to: Status, last: LastRun, now: dt.datetime, reason: str | None = None) -> Job:
    """The run ended: completed, failed, cancelled, or pending again after a usage limit."""
    return _move(job, to, now, current=None, last=last, reason=last.reason if reason is None else reason)


def cancel_pending(job: Job, now: dt.datetime) -> Job:
    return _move(job, Status.CANCELLED, now, reason="cancelled before it started")


def skip(job: Job, now: dt.datetime) -> Job:
    return _move(job, Status.SKIPPED, now, reason="skipped by the user")


# ---------------------------------------------------------------- queue.json


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dt(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _result_to_json(r: Result | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "subtype": r.subtype,
        "isError": r.is_error,
        "apiErrorStatus": r.api_error_status,
        "numTurns": r.num_turns,
        "durationMs": r.duration_ms,
        "costUsd": r.total_cost_usd,
        "text": r.text,
        "terminalReason": r.terminal_reason,
        "errors": list(r.errors),
    }


def _result_from_json(d: Mapping[str, Any] | None) -> Result | None:
    if d is None:
        return None
    return Result(
        subtype=d["subtype"],
        is_error=d["isError"],
        api_error_status=d.get("apiErrorStatus"),
        num_turns=d.get("numTurns"),
        duration_ms=d.get("durationMs"),
        total_cost_usd=d.get("costUsd"),
        text=d.get("text", ""),
        terminal_reason=d.get("terminalReason"),
        errors=tuple(d.get("errors", ())),
    )


def _rejected_to_json(r: RateLimit | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"status": r.status, "resetsAt": r.resets_at, "type": r.limit_type, "usingOverage": r.using_overage}


def _rejected_from_json(d: Mapping[str, Any] | None) -> RateLimit | None:
    if d is None:
        return None
    return RateLimit(
        status=d["status"], resets_at=d.get("resetsAt"), limit_type=d.get("type"), using_overage=d.get("usingOverage")
    )


def _current_to_json(c: CurrentRun | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "runId": c.run_id,
        "pid": c.pid,
        "pidCreateTime": c.pid_create_time,
        "startedAt": _ts(c.started_at),
        "resultAt": _ts(c.result_at),
        "logPath": c.log_path,
        "logOffset": c.log_offset,
        "contentHash": c.content_hash,
        "result": _result_to_json(c.result),
        "rejected": _rejected_to_json(c.rejected),
        "limitMessage": c.limit_message,
        "skippedLines": c.skipped_lines,
        "stopping": c.stopping,
    }


def _current_from_json(d: Mapping[str, Any] | None) -> CurrentRun | None:
    if d is None:
        return None
    return CurrentRun(
        run_id=d["runId"],
        pid=d.get("pid"),
        pid_create_time=d.get("pidCreateTime"),
        started_at=_dt(d["startedAt"]),
        result_at=_dt(d.get("resultAt")),
        log_path=d["logPath"],
        log_offset=d.get("logOffset", 0),
        content_hash=d.get("contentHash", ""),
        result=_result_from_json(d.get("result")),
        rejected=_rejected_from_json(d.get("rejected")),
        limit_message=d.get("limitMessage"),
        skipped_lines=d.get("skippedLines", 0),
        stopping=d.get("stopping"),
    )


def _last_to_json(r: LastRun | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "runId": r.run_id,
        "outcome": r.outcome,
        "exitCode": r.exit_code,
        "finishedAt": _ts(r.finished_at),
        "durationMs": r.duration_ms,
        "costUsd": r.cost_usd,
        "numTurns": r.num_turns,
        "reason": r.reason,
    }


def _last_from_json(d: Mapping[str, Any] | None) -> LastRun | None:
    if d is None:
        return None
    return LastRun(
        run_id=d["runId"],
        outcome=d["outcome"],
        exit_code=d.get("exitCode"),
        finished_at=_dt(d["finishedAt"]),
        duration_ms=d.get("durationMs", 0),
        cost_usd=d.get("costUsd"),
        num_turns=d.get("numTurns"),
        reason=d.get("reason", ""),
    )


def _investigation_to_json(i: Investigation | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "status": i.status.value,
        "fixPlanSlug": i.fix_plan_slug,
        "failedRunId": i.failed_run_id,
        "runId": i.run_id,
        "pid": i.pid,
        "pidCreateTime": i.pid_create_time,
        "startedAt": _ts(i.started_at),
        "finishedAt": _ts(i.finished_at),
        "logPath": i.log_path,
        "reason": i.reason,
    }


def _investigation_from_json(d: Mapping[str, Any] | None) -> Investigation | None:
    if d is None:
        return None
    return Investigation(
        status=InvestigationStatus(d["status"]),
        fix_plan_slug=d["fixPlanSlug"],
        failed_run_id=d["failedRunId"],
        run_id=d.get("runId"),
        pid=d.get("pid"),
        pid_create_time=d.get("pidCreateTime"),
        started_at=_dt(d.get("startedAt")),
        finished_at=_dt(d.get("finishedAt")),
        log_path=d.get("logPath"),
        reason=d.get("reason", ""),
    )


def _error_to_json(e: PrdError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"path": e.path, "line": e.line, "problem": e.problem, "fix": e.fix, "kind": e.kind}


def job_to_json(job: Job) -> dict[str, Any]:
    return {
        "slug": job.slug,
        "title": job.title,
        "cwd": job.cwd,
        "group": job.group,
        "estimateMinutes": job.estimate_minutes,
        "model": job.model,
        "dependsOn": list(job.depends_on),
        "status": job.status.value,
        "reason": job.reason,
        "contentHash": job.content_hash,
        "createdAt": _ts(job.created_at),
        "updatedAt": _ts(job.updated_at),
        "runs": job.runs,
        "current": _current_to_json(job.current),
        "last": _last_to_json(job.last),
        "fixPlanSlug": job.fix_plan_slug,
        "investigationOf": job.investigation_of,
        "extra": dict(job.extra),
        "error": _error_to_json(job.error),
        "investigation": _investigation_to_json(job.investigation),
        "interruptedRetries": job.interrupted_retries,
        "fileGone": job.file_gone,
    }


def job_from_json(d: Mapping[str, Any]) -> Job:
    error = d.get("error")
    return Job(
        slug=d["slug"],
        title=d.get("title", d["slug"]),
        cwd=d.get("cwd", ""),
        group=d["group"],
        status=Status(d["status"]),
        created_at=_dt(d["createdAt"]),
        updated_at=_dt(d["updatedAt"]),
        content_hash=d.get("contentHash", ""),
        estimate_minutes=d.get("estimateMinutes"),
        model=d.get("model", ""),
        depends_on=tuple(d.get("dependsOn", ())),
        reason=d.get("reason", ""),
        runs=d.get("runs", 0),
        current=_current_from_json(d.get("current")),
        last=_last_from_json(d.get("last")),
        fix_plan_slug=d.get("fixPlanSlug"),
        investigation_of=d.get("investigationOf"),
        extra=d.get("extra", {}),
        error=PrdError(**error) if error else None,
        investigation=_investigation_from_json(d.get("investigation")),
        interrupted_retries=d.get("interruptedRetries", 0),
        file_gone=d.get("fileGone", False),
    )


def pause_to_json(p: Pause | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"reason": p.reason.value, "since": _ts(p.since), "resumeAt": _ts(p.resume_at), "message": p.message}


def pause_from_json(d: Mapping[str, Any] | None) -> Pause | None:
    if d is None:
        return None
    return Pause(
        reason=PauseReason(d["reason"]),
        since=_dt(d["since"]),
        resume_at=_dt(d.get("resumeAt")),
        message=d.get("message", ""),
    )


def _window_to_json(w: Window) -> dict[str, Any]:
    return {"utilization": w.utilization, "resetsAt": _ts(w.resets_at)}


def _window_from_json(d: Mapping[str, Any] | None) -> Window:
    d = d or {}
    return Window(d.get("utilization"), _dt(d.get("resetsAt")))


def usage_to_json(u: Usage) -> dict[str, Any]:
    return {
        "fiveHour": _window_to_json(u.five_hour),
        "sevenDay": _window_to_json(u.seven_day),
        "polledAt": _ts(u.polled_at),
        "stale": u.stale,
    }


def usage_from_json(d: Mapping[str, Any] | None) -> Usage:
    if not d:
        return UNKNOWN
    return Usage(
        _window_from_json(d.get("fiveHour")),
        _window_from_json(d.get("sevenDay")),
        _dt(d.get("polledAt")),
        bool(d.get("stale", False)),
    )


def state_header_to_json(state: QueueState) -> dict[str, Any]:
    """Everything in queue.json but the jobs (the store serialises those one by one)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "paused": pause_to_json(state.paused),
        "lastTickAt": _ts(state.last_tick_at),
        "engine": (
            {"pid": state.engine.pid, "startedAt": _ts(state.engine.started_at)} if state.engine else None
        ),
        "onReset": {"target": _ts(state.on_reset.target), "active": state.on_reset.active},
        "usage": usage_to_json(state.usage),
    }


def state_to_json(state: QueueState) -> dict[str, Any]:
    document = state_header_to_json(state)
    document["jobs"] = [job_to_json(job) for job in state.jobs.values()]
    return document


def state_from_json(document: Any) -> QueueState:
    if not isinstance(document, dict):
        raise QueueFileError("queue.json is not a JSON object", "restore queue.json.bak or remove the file")
    version = document.get("schemaVersion")
    if not isinstance(version, int):
        raise QueueFileError("queue.json has no schemaVersion", "restore queue.json.bak or remove the file")
    if version > SCHEMA_VERSION:
        raise QueueFileError(
            f"queue.json was written by a newer Overnight (schema {version}; this one reads up to "
            f"{SCHEMA_VERSION})",
            "run the newer Overnight, or upgrade this one",
        )
    try:
        jobs = [job_from_json(d) for d in document.get("jobs", [])]
        engine = document.get("engine")
        on_reset = document.get("onReset") or {}
        return QueueState(
            jobs={job.slug: job for job in jobs},
            paused=pause_from_json(document.get("paused")),
            last_tick_at=_dt(document.get("lastTickAt")),
            engine=EngineInfo(engine["pid"], _dt(engine["startedAt"])) if engine else None,
            on_reset=OnReset(_dt(on_reset.get("target")), bool(on_reset.get("active", False))),
            usage=usage_from_json(document.get("usage")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise QueueFileError(
            f"queue.json is damaged ({type(exc).__name__}: {exc})",
            "restore queue.json.bak or remove the file",
        ) from exc
