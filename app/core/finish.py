"""What the end of a run means (docs/BEHAVIOUR.md sections 7 and 8): pure decisions.

The engine classifies how a run ended (`classify`), asks `finish_run` or
`finish_investigation` what follows, and applies the answer: the job's next state, a
pause, a usage window known to be full, the history record. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.core import gate as gates
from app.core import queue as q
from app.core.investigation import fix_plan_slug, should_investigate
from app.core.outcome import ExitInfo, Outcome, OutcomeKind, RunSummary, StopReason
from app.core.queue import Investigation, InvestigationStatus, Job, LastRun, Pause, Status
from app.core.reconcile import link_fix_plan
from app.core.resume import could_not_resume, cut_short
from app.core.stream import Result
from app.core.text import shorten
from app.core.times import iso_ms
from app.core.verify import VerifyResult, describe


@dataclass(frozen=True, slots=True)
class RunEndRules:
    """The settings a run's end depends on."""

    retry_interrupted: int  # runs cut short with no engine watching that are tried again
    investigate: bool  # failed jobs get an investigation
    resume_margin: float  # seconds after a usage limit's reset before runs start again
    resume: bool = True  # a run cut short continues its session (config.agent.resume)


@dataclass(frozen=True, slots=True)
class UsageLimitHit:
    """A run met a usage limit: its window is full until `resets_at` and the queue pauses."""

    limit_type: str | None
    resets_at: dt.datetime | None
    pause: Pause


@dataclass(frozen=True, slots=True)
class RunFinished:
    job: Job  # the job after its run (with an investigation waiting if it gets one)
    reason: str
    limit: UsageLimitHit | None
    history: dict[str, Any]  # the run's line in history.jsonl
    leaves_queue: bool  # its PRD was removed during the run: the row goes now


@dataclass(frozen=True, slots=True)
class InvestigationFinished:
    jobs: dict[str, Job]  # the queue's rows after the investigation ended
    ended: bool  # False: it did not get to do its work and waits for its turn again
    reason: str
    fix_plan: str | None  # the fix plan it wrote
    limit: UsageLimitHit | None
    history: dict[str, Any] | None
    leaves_queue: bool


def finish_run(
    jobs: Mapping[str, Job],
    job: Job,
    outcome: Outcome,
    exit: ExitInfo,
    result: Result | None,
    stop_reason: StopReason | None,
    rules: RunEndRules,
    now: dt.datetime,
    verify: VerifyResult | None = None,
    review: str | None = None,
) -> RunFinished:
    """`job` is the running job (its PRD as it is now); `result` the agent's result event, if it
    wrote one; `stop_reason` says why Overnight stopped the run, if it did (`SHUTDOWN`: the user
    quit and chose to stop the agents); `verify` what its verify commands said, when they ran
    (only after a `completed` outcome: a failed one makes the job `failed`); `review` why a
    completed and verified run's work could not be taken on its own (its branch does not merge, it
    changed nothing): the job then needs review."""
    current = job.current
    assert current is not None
    status, reason, interrupted = _next_status(job, outcome, exit, stop_reason, rules.retry_interrupted)
    resume, resumes = None, 0
    unresumable = could_not_resume(current, exit, result)
    if stop_reason is StopReason.SPEND and outcome.kind is not OutcomeKind.COMPLETED:
        # Not the job's doing: it waits for the pause to end, its next run as it would have been.
        status, interrupted, resume, resumes = Status.PENDING, False, job.resume, job.resumes
    elif unresumable is not None:
        status, interrupted = Status.PENDING, False
        reason = f"could not continue the session of run {current.resumed_from} ({unresumable}): it starts fresh"
    elif status is Status.PENDING and (outcome.kind is OutcomeKind.RATE_LIMITED or stop_reason is StopReason.SHUTDOWN
                                       or interrupted):
        cut = cut_short(job, reason, rules.resume)
        resume, resumes, reason = cut.resume, cut.resumes, cut.reason
        if cut.failed:  # what cuts it short is not the agent's doing: no investigation
            status, interrupted = Status.FAILED, True
    if outcome.kind is OutcomeKind.COMPLETED and verify is not None:
        status, reason = _verified(reason, verify, stop_reason)
    else:
        verify = None  # verify runs only after a completed run; anything else is the run's own end
    if status is Status.COMPLETED and review is not None:
        status, reason = Status.NEEDS_REVIEW, review
    last = LastRun(
        run_id=current.run_id,
        outcome=outcome.kind,
        exit_code=exit.returncode,
        finished_at=now,
        duration_ms=int((now - current.started_at).total_seconds() * 1000),
        cost_usd=result.total_cost_usd if result else None,
        num_turns=result.num_turns if result else None,
        reason=outcome.reason,
        session_id=current.session_id,
        resumed_from=current.resumed_from,
    )
    finished = replace(q.finish(job, status, last, now, reason, verify), resume=resume, resumes=resumes)
    if interrupted and status is Status.PENDING:
        finished = replace(finished, interrupted_retries=job.interrupted_retries + 1)
    if status is Status.FAILED and not interrupted and should_investigate(
        jobs, finished, spawn_error=outcome.spawn_error, enabled=rules.investigate
    ):
        finished = replace(finished, investigation=Investigation(
            InvestigationStatus.WAITING, fix_plan_slug(job.slug, job.group), failed_run_id=current.run_id))
    history = {
        "event": "run.finished",
        "kind": "job",
        "slug": job.slug,
        "runId": current.run_id,
        "outcome": outcome.kind,
        "status": status.value,
        "reason": reason,
        "exitCode": exit.returncode,
        "startedAt": iso_ms(current.started_at),
        "finishedAt": iso_ms(now),
        "durationMs": last.duration_ms,
        "costUsd": last.cost_usd,
        "numTurns": last.num_turns,
        "contentHash": current.content_hash,
        "sessionId": current.session_id,
        "resumedFrom": current.resumed_from,
        "apiKeySource": current.api_key_source,
        "verified": None if verify is None else verify.ok,
        "title": job.title,
        "resultText": result_start(result),
        "verify": None if verify is None else [{"cmd": c.cmd, "exitCode": c.exit_code} for c in verify.commands],
        "workspace": _workspace_record(job),
    }
    limited = outcome.resets_at is not None or outcome.kind is OutcomeKind.RATE_LIMITED
    limit = _limit_hit(outcome, rules, now) if limited else None
    return RunFinished(finished, reason, limit, history, finished.file_gone and not finished.is_busy)


RESULT_START = 600  # characters of the agent's result text a run's records keep


def result_start(result: Result | None) -> str | None:
    """The start of the agent's final result text, as the run's records keep it."""
    return shorten(result.text.strip(), RESULT_START) if result is not None and result.text.strip() else None


def _workspace_record(job: Job) -> dict[str, Any] | None:
    """A worktree job's branch, merge commit and diffstat, for its history line."""
    ws = job.workspace
    if ws is None:
        return None
    stat = ws.diffstat
    return {"branch": ws.branch, "mergeCommit": ws.merge_commit, "files": stat.files,
            "insertions": stat.insertions, "deletions": stat.deletions, "changedFiles": list(stat.paths)}


def _verified(reason: str, verify: VerifyResult, stop_reason: StopReason | None) -> tuple[Status, str]:
    """A completed run after its verify commands: completed only when every one passed."""
    if verify.ok:
        return Status.COMPLETED, f"{reason}; {describe(verify)}"
    if stop_reason is StopReason.CANCEL:
        return Status.CANCELLED, "cancelled while verifying"
    if stop_reason is StopReason.SHUTDOWN:
        return Status.PENDING, "stopped while verifying when Overnight quit; it will run again"
    return Status.FAILED, describe(verify)


def _next_status(
    job: Job, outcome: Outcome, exit: ExitInfo, stop_reason: StopReason | None, retry_interrupted: int
) -> tuple[Status, str, bool]:
    """The job's status after its run, why, and whether the run was cut short with no engine
    watching (not the agent's failure: it does not count as one)."""
    assert job.current is not None
    prd_changed = job.content_hash != job.current.content_hash
    if outcome.kind is OutcomeKind.COMPLETED:
        return Status.COMPLETED, outcome.reason + ("; the PRD changed during the run" if prd_changed else ""), False
    if outcome.kind is OutcomeKind.CANCELLED:
        return Status.CANCELLED, outcome.reason, False
    if outcome.kind is OutcomeKind.RATE_LIMITED:
        return Status.PENDING, f"usage limit: {outcome.reason}", False
    if stop_reason is StopReason.SHUTDOWN:
        return Status.PENDING, "stopped when Overnight quit; it will run again", False
    if exit.returncode is None and exit.spawn_error is None and exit.watchdog is None:
        # It ended while no engine watched (a crash, a restart): run it again, once.
        if job.interrupted_retries < retry_interrupted:
            return Status.PENDING, f"{outcome.reason}; retrying", True
        return Status.FAILED, outcome.reason, True
    if prd_changed:
        # The user edited it while it ran: the new version has not been tried yet.
        why = f"failed ({outcome.reason}), but its PRD changed during the run: running the new version"
        return Status.PENDING, why, False
    return Status.FAILED, outcome.reason, False


def finish_investigation(
    jobs: Mapping[str, Job],
    slug: str,
    outcome: Outcome,
    stop_reason: StopReason | None,
    fix_plan_written: bool,
    rules: RunEndRules,
    now: dt.datetime,
    held_at: str | None = None,
    summary: RunSummary | None = None,
) -> InvestigationFinished:
    """An investigation ends with the fix plan it wrote, or without one; one that met a usage
    limit, or was stopped by the user quitting or by the spend guard, before writing it, waits for
    its turn again. `held_at`: it wrote the plan there, under fix-plans/, to wait for the user's
    approval. `summary`: what its agent's stream said (the credential it billed, its result)."""
    job = jobs[slug]
    inv = job.investigation
    assert inv is not None
    limit = _limit_hit(outcome, rules, now) if outcome.kind is OutcomeKind.RATE_LIMITED else None
    held = held_at is not None and not fix_plan_written
    written = fix_plan_written or held
    if not written and (outcome.kind is OutcomeKind.RATE_LIMITED or stop_reason in (StopReason.SHUTDOWN,
                                                                                     StopReason.SPEND)):
        if limit:
            why = f"usage limit: {outcome.reason}"
        else:
            why = outcome.reason if stop_reason is StopReason.SPEND else "stopped when Overnight quit"
        return InvestigationFinished(waiting(jobs, slug, why), False, why, None, limit, None, False)
    if fix_plan_written:
        status, reason = InvestigationStatus.WROTE_FIX_PLAN, f"wrote {inv.fix_plan_slug}"
    elif held:
        status, reason = InvestigationStatus.HELD, f"wrote {inv.fix_plan_slug}; it awaits your approval"
    else:
        status = InvestigationStatus.NO_FIX_PLAN
        reason = "the investigation ended without writing the fix plan"
        if outcome.kind is not OutcomeKind.COMPLETED:
            reason += f" ({outcome.reason})"
    after = end_investigation(jobs, slug, status, reason, now, held_at if held else None)
    fix_plan = inv.fix_plan_slug if written else None
    history = {"event": "run.finished", "kind": "investigation", "slug": slug, "runId": inv.failed_run_id,
               "outcome": outcome.kind, "reason": outcome.reason, "fixPlan": fix_plan,
               "apiKeySource": summary.api_key_source if summary else None,
               "costUsd": summary.result.total_cost_usd if summary and summary.result else None}
    return InvestigationFinished(after, True, reason, fix_plan, None, history, after[slug].file_gone)


def waiting(jobs: Mapping[str, Job], slug: str, why: str) -> dict[str, Job]:
    """The investigation did not run (or not to its end, through no fault of its own): it waits
    for its turn again."""
    job = jobs[slug]
    assert job.investigation is not None
    after = dict(jobs)
    after[slug] = replace(job, investigation=replace(job.investigation, status=InvestigationStatus.WAITING,
                                                     pid=None, reason=why))
    return after


def end_investigation(
    jobs: Mapping[str, Job], slug: str, status: InvestigationStatus, reason: str, now: dt.datetime,
    plan_path: str | None = None,
) -> dict[str, Job]:
    """The investigation is over; a fix plan it wrote is linked to the job it fixes."""
    job = jobs[slug]
    assert job.investigation is not None
    inv = replace(job.investigation, status=status, finished_at=now, pid=None, reason=reason, plan_path=plan_path)
    after = dict(jobs)
    after[slug] = replace(job, investigation=inv)
    if status is InvestigationStatus.WROTE_FIX_PLAN and inv.fix_plan_slug in after:
        link_fix_plan(after, inv.fix_plan_slug)
    return after


def _limit_hit(outcome: Outcome, rules: RunEndRules, now: dt.datetime) -> UsageLimitHit:
    pause = gates.rate_limit_pause(outcome.resets_at, outcome.limit_type, rules.resume_margin, now)
    return UsageLimitHit(outcome.limit_type, outcome.resets_at, pause)
