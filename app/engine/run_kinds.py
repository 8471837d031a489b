"""The kinds of run. Every run lives the same life (runs.py: begun on disk, launched,
supervised, finished or adopted after a restart); a `RunKind` supplies what differs: its
files, its record in the queue, the model, the limits, the prompt, and what its end means.
`JobRun` is here; `InvestigationRun` in investigation_run.py.

Adding a kind is writing one subclass (docs/ARCHITECTURE.md, "Adding a run kind").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from app.core import queue as q
from app.core.agent import run_marker
from app.core.event_names import EventName
from app.core.finish import finish_run
from app.core.outcome import ExitInfo, OutcomeKind, RunSummary, StopReason, classify
from app.core.prd import body_of
from app.core.queue import CurrentRun, Investigation, Job
from app.core.resume import continuation_prompt
from app.core.verify import VerifyResult, commands_for
from app.core.workspace import WORKTREE, workdir
from app.engine.runner import Limits, RunEnd
from app.engine.verify import verify_job
from app.engine.worktrees import GitError
from app.paths import RunFiles

if TYPE_CHECKING:
    from app.engine.engine import Engine

class RunKind:
    """One run of one job's kind. `run_id` names the run's folder under runs/."""

    name: ClassVar[str]  # in events and .meta.json
    started_event: ClassVar[EventName]
    adopted_event: ClassVar[EventName]

    def __init__(self, engine: Engine, slug: str, run_id: str) -> None:
        self.engine = engine
        self.slug = slug
        self.run_id = run_id

    @property
    def files(self) -> RunFiles:
        raise NotImplementedError

    @property
    def marker(self) -> str:
        return run_marker(self.run_id, self.files.name)

    def record(self) -> CurrentRun | Investigation | None:
        """This run's record in the queue, None once the queue has moved on from it."""
        raise NotImplementedError

    def begin(self, job: Job, now: dt.datetime) -> Job | None:
        """The job with this run recorded as begun (the log at `files.log`), or None when it
        cannot begin now (it changed since it was picked)."""
        raise NotImplementedError

    async def prompt(self) -> bytes | None:
        """What the agent is asked; None: it does not run after all (the kind said why)."""
        raise NotImplementedError

    def model(self) -> str:
        raise NotImplementedError

    def resumes(self) -> str | None:
        """The agent session this run continues (`--resume`); None: it starts a new one."""
        return None

    def limits(self) -> Limits:
        w = self.engine.config.watchdog
        return Limits(w.post_result_grace, w.kill_after, w.idle, w.max_duration)

    def not_started(self, why: str) -> None:
        """It could not start now for a reason that may pass: it waits for its turn again."""
        raise NotImplementedError

    def could_not_start(self, why: str) -> None:
        """It cannot start until the user fixes something (no binary, no cwd)."""
        raise NotImplementedError

    def recorded(self, pid: int, create_time: float) -> None:
        """Its process is known: saved so a restarted engine can find it."""
        raise NotImplementedError

    def started_fields(self) -> dict[str, Any]:
        return {}

    async def after_run(self, end: RunEnd) -> None:
        """A step between the end of its process and `finished` (a job's verify commands);
        the run still counts as running meanwhile."""

    def finished(self, end: RunEnd) -> None:
        raise NotImplementedError

    def workdir(self) -> str:
        """Where the agent runs: the PRD's cwd, or its place in the job's kept worktree (by its real path, as git's)."""
        job = self._job()
        assert job is not None
        ws = job.workspace
        if ws is None or ws.merged or job.workspace_mode != WORKTREE:
            return job.cwd
        return workdir(ws.repo, os.path.realpath(job.cwd), ws.path)

    def unusable(self, exc: Exception) -> None:
        """Its record cannot be restored (it points nowhere): settled alone, the start goes on."""
        raise NotImplementedError

    @property
    def started_at(self) -> dt.datetime:
        record = self.record()
        return (record.started_at if record is not None else None) or self.engine.clock.now()

    @property
    def stopping(self) -> StopReason | None:
        """A stop the previous engine had begun (carried out after a restart)."""
        return None

    def _job(self) -> Job | None:
        return self.engine.state.jobs.get(self.slug)


class JobRun(RunKind):
    """A job's PRD run as its own agent session."""

    name = "job"
    started_event = EventName.JOB_STARTED
    adopted_event = EventName.JOB_ADOPTED
    review: str | None = None  # why its worktree's result needs the user (after_run says)

    def __init__(self, engine: Engine, slug: str, run_id: str) -> None:
        super().__init__(engine, slug, run_id)
        self.verified: VerifyResult | None = None  # what its verify commands said, once they ran

    @property
    def files(self) -> RunFiles:
        return self.engine.home.run_files(self.run_id, self.slug)

    def record(self) -> CurrentRun | None:
        job = self._job()
        current = job.current if job is not None else None
        return current if current is not None and current.run_id == self.run_id else None

    def begin(self, job: Job, now: dt.datetime) -> Job | None:
        """A job with a session to continue (and resuming on) begins as its resumed run."""
        resume = job.resume if self.engine.config.agent.resume else None
        current = CurrentRun(run_id=self.run_id, started_at=now, log_path=str(self.files.log),
                             content_hash=job.content_hash, session_id=resume.session_id if resume else None,
                             resumed_from=resume.run_id if resume else None)
        return q.start(job, current, now)

    def resumes(self) -> str | None:
        record = self.record()
        return record.session_id if record is not None and record.resumed_from is not None else None

    async def prompt(self) -> bytes | None:
        engine = self.engine
        read = await engine.folder.read_prd(self.slug)
        if read.data is None:
            self.not_started("not started: its PRD could not be read")
            engine.folder.reconcile_now([read])  # gone, or unreadable: the row says so
            return None
        current = self.record()
        job = self._job()
        if current is None or job is None:
            return None
        if current.stopping is StopReason.CANCEL:
            self.finished(RunEnd(ExitInfo(None, cancelled=True), RunSummary(), 0, StopReason.CANCEL))
            return None
        if current.content_hash != read.content_hash:
            # Edited since it was picked: the run is of the PRD it reads now, and its record says so.
            engine.put(q.update_run(job, content_hash=read.content_hash))
        if job.workspace_mode == WORKTREE and not await self._place_in_worktree(job):
            return None
        body = body_of(read.data)
        job = self._job() or job
        if job.resume is not None and self.resumes() is not None:
            return continuation_prompt(body, job.resume).encode()
        return body.encode()

    async def _place_in_worktree(self, job: Job) -> bool:
        """A resumed run continues in the worktree its session began in; a fresh one gets its own.
        A worktree gone since (removed by hand) cannot be resumed in: the run starts fresh."""
        ws = job.workspace
        if self.resumes() is None:
            return await self._make_worktree(job)
        if ws is not None and not ws.merged and await asyncio.to_thread(os.path.isdir, ws.path):
            return True
        engine = self.engine
        why = "its worktree is gone, so its session cannot continue: it starts fresh"
        engine.put(q.update_run(job, session_id=None, resumed_from=None))
        engine.emit(EventName.JOB_RESUME_DROPPED, "warning", slug=self.slug, runId=self.run_id, reason=why)
        return await self._make_worktree(self._job() or job)

    async def _make_worktree(self, job: Job) -> bool:
        """The run's own worktree and branch, recorded on the job before the agent starts."""
        engine = self.engine
        try:
            ws = await engine.runs.worktrees.create(job.cwd, self.slug, job.base, engine.config.workspace.branch)
        except (GitError, OSError, TimeoutError) as exc:
            self.could_not_start(f"its worktree could not be made ({exc})")
            return False
        job = self._job() or job
        if self.record() is None:
            return False
        engine.put(replace(job, workspace=ws))
        return True

    async def after_run(self, end: RunEnd) -> None:
        """In a worktree, what the agent left is committed; a completed run is checked by its
        verify commands (in its workspace); a worktree job's verified work is then merged, or found
        to need review (docs/BEHAVIOUR.md section 13)."""
        engine = self.engine
        job = self._job()
        if job is None or self.record() is None:
            return
        completed = (end.stop_reason is not StopReason.CANCEL
                     and classify(end.summary, end.exit, engine.clock.now(), engine.local_tz).kind
                     is OutcomeKind.COMPLETED)
        in_worktree = job.workspace is not None and job.workspace_mode == WORKTREE
        if in_worktree:
            await self._settle_worktree(merge=False)
        commands = commands_for(job.verify_commands, engine.config.workspace.verify)
        if completed and commands:
            await self._verify(commands)
        if in_worktree and completed and (self.verified is None or self.verified.ok):
            await self._settle_worktree(merge=True)

    async def _verify(self, commands: tuple[str, ...]) -> None:
        engine, job = self.engine, self._job()
        if job is None:
            return
        engine.put(q.verifying(job, engine.clock.now()))
        self.verified = await verify_job(engine, self.workdir(), commands, self.files.verify_log, self.marker)
        failed = self.verified.failed
        engine.emit(EventName.JOB_VERIFIED, "info" if failed is None else "warning", slug=self.slug,
                    runId=self.run_id, ok=self.verified.ok, failed=failed.cmd if failed else None)

    async def _settle_worktree(self, *, merge: bool) -> None:
        """Before verify: commit what the agent left; after it: merge the branch (or say why not)."""
        engine, job = self.engine, self._job()
        if job is None or job.workspace is None:
            return
        settled = await engine.runs.worktrees.settle(
            job.workspace, title=job.title, slug=self.slug, completed=merge, commit=not merge,
            expect_changes=job.expect_changes, integration=engine.config.workspace.branch)
        self.review = settled.review
        job = self._job()
        if job is None or self.record() is None:
            return
        ws = settled.workspace
        engine.put(replace(job, workspace=ws))
        if ws.merged:
            engine.emit(EventName.JOB_MERGED, slug=self.slug, branch=ws.branch, commit=ws.merge_commit)

    def model(self) -> str:
        job = self._job()
        return (job.model if job is not None else None) or self.engine.config.agent.model

    @property
    def stopping(self) -> StopReason | None:
        record = self.record()
        return record.stopping if record is not None else None

    def not_started(self, why: str) -> None:
        job, current = self._job(), self.record()
        if job is None or current is None:
            return
        self.engine.put(q.unstart(job, why, self.engine.clock.now()))
        self.engine.emit(EventName.JOB_NOT_STARTED, "warning", slug=self.slug, runId=self.run_id, reason=why)
        self.engine.request_tick()

    def could_not_start(self, why: str) -> None:
        self.finished(RunEnd(ExitInfo(returncode=None, spawn_error=why), RunSummary(), 0))

    def recorded(self, pid: int, create_time: float) -> None:
        job = self._job()
        if job is not None and self.record() is not None:
            self.engine.put(q.update_run(job, pid=pid, pid_create_time=create_time))

    def started_fields(self) -> dict[str, Any]:
        job = self._job()
        record = self.record()
        return {"group": job.group if job is not None else None,
                "resumedFrom": record.resumed_from if record is not None else None}

    def finished(self, end: RunEnd) -> None:
        engine = self.engine
        job = self._job()
        if job is None or self.record() is None:
            return
        now = engine.clock.now()
        outcome = classify(end.summary, end.exit, now, engine.local_tz)
        if end.summary.session_id:  # read after a restart, it may not have been saved yet
            job = q.update_run(job, session_id=end.summary.session_id, api_key_source=end.summary.api_key_source)
        done = finish_run(engine.state.jobs, job, outcome, end.exit, end.summary.result, end.stop_reason,
                          engine.run_end_rules(), now, verify=self.verified, review=self.review)
        engine.put(done.job)
        if done.job.status is q.Status.NEEDS_REVIEW:
            engine.emit(EventName.JOB_NEEDS_REVIEW, "warning", slug=self.slug, reason=done.reason)
        if done.limit is not None:
            engine.runs.usage_limit_hit(done.limit)
        engine.history(done.history)
        engine.housekeeping.spend.ran(done.history)
        engine.runs.write_outcome(self, outcome, end, now)
        level = "info" if outcome.kind is OutcomeKind.COMPLETED else "warning"
        engine.emit(EventName.JOB_FINISHED, level, slug=self.slug, runId=self.run_id, outcome=outcome.kind,
                    reason=outcome.reason, exitCode=end.exit.returncode)
        if end.killed_leftovers:
            engine.emit(EventName.RUN_LEFTOVERS_KILLED, "warning", slug=self.slug, runId=self.run_id,
                        pids=[ident.pid for ident in end.killed_leftovers])
        if done.leaves_queue:
            engine.drop(self.slug, "its PRD was removed during the run")
        engine.request_tick()

    def unusable(self, exc: Exception) -> None:
        self.engine.emit(EventName.RUN_QUARANTINED, "warning", slug=self.slug, runId=self.run_id,
                         error=f"{type(exc).__name__}: {exc}")
        self.finished(RunEnd(ExitInfo(None), RunSummary(), 0))
