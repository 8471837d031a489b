"""queue.json's document: the queue's values to JSON and back, and the schema version.

Keys are camelCase; a moment is ISO-8601 UTC to the millisecond (`iso_ms`). A document this
version cannot use raises `QueueFileError`: it is never read as an empty or guessed queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.core.outcome import OutcomeKind, StopReason
from app.core.prd import PrdError, PrdErrorKind
from app.core.queue import (
    CurrentRun,
    EngineInfo,
    Investigation,
    InvestigationStatus,
    Job,
    LastRun,
    OnReset,
    Pause,
    PauseReason,
    QueueState,
    Resume,
    Status,
)
from app.core.stream import RateLimit, Result
from app.core.times import iso_ms
from app.core.usage import UNKNOWN, Usage, Window
from app.core.verify import VerifyCommand, VerifyResult
from app.core.workspace import SHARED, Diffstat, Workspace

SCHEMA_VERSION = 1


class QueueFileError(ValueError):
    """queue.json cannot be used as it is; `problem` and `fix` are shown to the user."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} — {fix}")
        self.problem, self.fix = problem, fix


def _moment(value: Any) -> dt.datetime:
    """A moment as iso_ms writes it (one without a zone is UTC). A missing one (null) is a
    ValueError: the file is damaged, and says so when it is read."""
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _optional_moment(value: Any) -> dt.datetime | None:
    return None if value is None else _moment(value)


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
        "startedAt": iso_ms(c.started_at),
        "resultAt": iso_ms(c.result_at),
        "logPath": c.log_path,
        "logOffset": c.log_offset,
        "contentHash": c.content_hash,
        "result": _result_to_json(c.result),
        "rejected": _rejected_to_json(c.rejected),
        "limitMessage": c.limit_message,
        "skippedLines": c.skipped_lines,
        "stopping": c.stopping,
        "sessionId": c.session_id,
        "resumedFrom": c.resumed_from,
        "apiKeySource": c.api_key_source,
    }


def _current_from_json(d: Mapping[str, Any] | None) -> CurrentRun | None:
    if d is None:
        return None
    return CurrentRun(
        run_id=d["runId"],
        pid=d.get("pid"),
        pid_create_time=d.get("pidCreateTime"),
        started_at=_moment(d["startedAt"]),
        result_at=_optional_moment(d.get("resultAt")),
        log_path=d["logPath"],
        log_offset=d.get("logOffset", 0),
        content_hash=d.get("contentHash", ""),
        result=_result_from_json(d.get("result")),
        rejected=_rejected_from_json(d.get("rejected")),
        limit_message=d.get("limitMessage"),
        skipped_lines=d.get("skippedLines", 0),
        stopping=StopReason(d["stopping"]) if d.get("stopping") is not None else None,
        session_id=d.get("sessionId"),
        resumed_from=d.get("resumedFrom"),
        api_key_source=d.get("apiKeySource"),
    )


def _last_to_json(r: LastRun | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "runId": r.run_id,
        "outcome": r.outcome,
        "exitCode": r.exit_code,
        "finishedAt": iso_ms(r.finished_at),
        "durationMs": r.duration_ms,
        "costUsd": r.cost_usd,
        "numTurns": r.num_turns,
        "reason": r.reason,
        "sessionId": r.session_id,
        "resumedFrom": r.resumed_from,
    }


def _last_from_json(d: Mapping[str, Any] | None) -> LastRun | None:
    if d is None:
        return None
    return LastRun(
        run_id=d["runId"],
        outcome=OutcomeKind(d["outcome"]),
        exit_code=d.get("exitCode"),
        finished_at=_moment(d["finishedAt"]),
        duration_ms=d.get("durationMs", 0),
        cost_usd=d.get("costUsd"),
        num_turns=d.get("numTurns"),
        reason=d.get("reason", ""),
        session_id=d.get("sessionId"),
        resumed_from=d.get("resumedFrom"),
    )


def _resume_to_json(r: Resume | None) -> dict[str, Any] | None:
    return None if r is None else {"runId": r.run_id, "sessionId": r.session_id, "why": r.why}


def _resume_from_json(d: Mapping[str, Any] | None) -> Resume | None:
    return None if d is None else Resume(run_id=d["runId"], session_id=d["sessionId"], why=d.get("why", ""))


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
        "startedAt": iso_ms(i.started_at),
        "finishedAt": iso_ms(i.finished_at),
        "logPath": i.log_path,
        "reason": i.reason,
        "planPath": i.plan_path,
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
        started_at=_optional_moment(d.get("startedAt")),
        finished_at=_optional_moment(d.get("finishedAt")),
        log_path=d.get("logPath"),
        reason=d.get("reason", ""),
        plan_path=d.get("planPath"),
    )


def verify_to_json(v: VerifyResult | None) -> dict[str, Any] | None:
    if v is None:
        return None
    commands = [{"cmd": c.cmd, "exitCode": c.exit_code, "durationMs": c.duration_ms} for c in v.commands]
    return {"ok": v.ok, "commands": commands, "logPath": v.log_path}


def _verify_from_json(d: Mapping[str, Any] | None) -> VerifyResult | None:
    if d is None:
        return None
    commands = tuple(VerifyCommand(c["cmd"], c.get("exitCode"), c.get("durationMs", 0)) for c in d["commands"])
    return VerifyResult(ok=bool(d["ok"]), commands=commands, log_path=d.get("logPath", ""))


def _error_to_json(e: PrdError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"path": e.path, "line": e.line, "problem": e.problem, "fix": e.fix, "kind": e.kind}


def _error_from_json(d: Mapping[str, Any] | None) -> PrdError | None:
    if not d:
        return None
    return PrdError(
        path=d["path"],
        line=d["line"],
        problem=d["problem"],
        fix=d["fix"],
        kind=PrdErrorKind(d.get("kind", PrdErrorKind.FILE)),
    )


def _workspace_to_json(w: Workspace | None) -> dict[str, Any] | None:
    if w is None:
        return None
    stat = w.diffstat
    return {
        "repo": w.repo,
        "path": w.path,
        "branch": w.branch,
        "base": w.base,
        "merged": w.merged,
        "mergeCommit": w.merge_commit,
        "diffstat": {"files": stat.files, "insertions": stat.insertions, "deletions": stat.deletions,
                     "paths": list(stat.paths)},
    }


def _workspace_from_json(d: Mapping[str, Any] | None) -> Workspace | None:
    if d is None:
        return None
    stat = d.get("diffstat") or {}
    return Workspace(
        repo=d["repo"],
        path=d["path"],
        branch=d["branch"],
        base=d["base"],
        merged=bool(d.get("merged", False)),
        merge_commit=d.get("mergeCommit"),
        diffstat=Diffstat(stat.get("files", 0), stat.get("insertions", 0), stat.get("deletions", 0),
                          tuple(str(path) for path in stat.get("paths", ()))),
    )


def job_to_json(job: Job) -> dict[str, Any]:
    return {
        "slug": job.slug,
        "title": job.title,
        "cwd": job.cwd,
        "group": job.group,
        "estimateMinutes": job.estimate_minutes,
        "model": job.model,
        "dependsOn": list(job.depends_on),
        "verifyCommands": None if job.verify_commands is None else list(job.verify_commands),
        "status": job.status.value,
        "reason": job.reason,
        "contentHash": job.content_hash,
        "createdAt": iso_ms(job.created_at),
        "updatedAt": iso_ms(job.updated_at),
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
        "workspaceMode": job.workspace_mode,
        "base": job.base,
        "expectChanges": job.expect_changes,
        "workspace": _workspace_to_json(job.workspace),
        "verify": verify_to_json(job.verify),
        "resume": _resume_to_json(job.resume),
        "resumes": job.resumes,
        "earlierRuns": [_last_to_json(run) for run in job.earlier_runs],
    }


def job_from_json(d: Mapping[str, Any]) -> Job:
    return Job(
        slug=d["slug"],
        title=d.get("title", d["slug"]),
        cwd=d.get("cwd", ""),
        group=d["group"],
        status=Status(d["status"]),
        created_at=_moment(d["createdAt"]),
        updated_at=_moment(d["updatedAt"]),
        content_hash=d.get("contentHash", ""),
        estimate_minutes=d.get("estimateMinutes"),
        model=d.get("model", ""),
        depends_on=tuple(d.get("dependsOn", ())),
        verify_commands=None if d.get("verifyCommands") is None else tuple(d["verifyCommands"]),
        reason=d.get("reason", ""),
        runs=d.get("runs", 0),
        current=_current_from_json(d.get("current")),
        last=_last_from_json(d.get("last")),
        fix_plan_slug=d.get("fixPlanSlug"),
        investigation_of=d.get("investigationOf"),
        extra=d.get("extra", {}),
        error=_error_from_json(d.get("error")),
        investigation=_investigation_from_json(d.get("investigation")),
        interrupted_retries=d.get("interruptedRetries", 0),
        file_gone=d.get("fileGone", False),
        workspace_mode=d.get("workspaceMode", SHARED),
        base=d.get("base"),
        expect_changes=d.get("expectChanges", True),
        workspace=_workspace_from_json(d.get("workspace")),
        verify=_verify_from_json(d.get("verify")),
        resume=_resume_from_json(d.get("resume")),
        resumes=d.get("resumes", 0),
        earlier_runs=tuple(run for run in map(_last_from_json, d.get("earlierRuns", ())) if run is not None),
    )


def pause_to_json(p: Pause | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"reason": p.reason.value, "since": iso_ms(p.since), "resumeAt": iso_ms(p.resume_at), "message": p.message}


def pause_from_json(d: Mapping[str, Any] | None) -> Pause | None:
    if d is None:
        return None
    return Pause(
        reason=PauseReason(d["reason"]),
        since=_moment(d["since"]),
        resume_at=_optional_moment(d.get("resumeAt")),
        message=d.get("message", ""),
    )


def _window_to_json(w: Window) -> dict[str, Any]:
    return {"utilization": w.utilization, "resetsAt": iso_ms(w.resets_at)}


def _window_from_json(d: Mapping[str, Any] | None) -> Window:
    d = d or {}
    return Window(d.get("utilization"), _optional_moment(d.get("resetsAt")))


def usage_to_json(u: Usage) -> dict[str, Any]:
    return {
        "fiveHour": _window_to_json(u.five_hour),
        "sevenDay": _window_to_json(u.seven_day),
        "polledAt": iso_ms(u.polled_at),
        "stale": u.stale,
    }


def usage_from_json(d: Mapping[str, Any] | None) -> Usage:
    if not d:
        return UNKNOWN
    return Usage(
        _window_from_json(d.get("fiveHour")),
        _window_from_json(d.get("sevenDay")),
        _optional_moment(d.get("polledAt")),
        bool(d.get("stale", False)),
    )


def state_header_to_json(state: QueueState) -> dict[str, Any]:
    """Everything in queue.json but the jobs (the store serialises those one by one)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "paused": pause_to_json(state.paused),
        "lastTickAt": iso_ms(state.last_tick_at),
        "engine": (
            {"pid": state.engine.pid, "startedAt": iso_ms(state.engine.started_at)} if state.engine else None
        ),
        "onReset": {"target": iso_ms(state.on_reset.target), "active": state.on_reset.active},
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
            last_tick_at=_optional_moment(document.get("lastTickAt")),
            engine=EngineInfo(engine["pid"], _moment(engine["startedAt"])) if engine else None,
            on_reset=OnReset(_optional_moment(on_reset.get("target")), bool(on_reset.get("active", False))),
            usage=usage_from_json(document.get("usage")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise QueueFileError(
            f"queue.json is damaged ({type(exc).__name__}: {exc})",
            "restore queue.json.bak or remove the file",
        ) from exc
