"""The life of every run, whatever its kind (run_kinds.py): begun on disk, its process
launched, supervised while it runs, finished; or, after a restart, adopted or finished from
what it left (docs/BEHAVIOUR.md sections 7 to 9).

The order is what makes a crash harmless: each run's folder and files first, then the run
recorded and made durable, then its process. A crash at any point leaves either a waiting
job or a run on disk whose record points at real files. A start that cannot be made
durable never began.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import json
import secrets
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from app.core import gate as gates
from app.core import queue as q
from app.core.agent import MARKER, agent_argv, agent_env, run_marker
from app.core.batching import is_runnable
from app.core.event_names import EventName
from app.core.finish import UsageLimitHit, result_start
from app.core.outcome import ExitInfo, Outcome, StopReason, rejection_reset
from app.core.queue import InvestigationStatus, Job
from app.core.stream import Event, Init, RateLimit, Result
from app.core.times import iso_ms
from app.engine import procs, store
from app.engine.investigation_run import InvestigationRun
from app.engine.procs import ProcessId
from app.engine.run_kinds import JobRun, RunKind
from app.engine.runner import AgentMissing, AgentRun, Launch, RunEnd, SpawnError
from app.engine.worktrees import Worktrees
from app.paths import write_private_atomically

if TYPE_CHECKING:
    from app.engine.engine import Engine

START_RETRY = 10.0  # seconds after a process could not be created for want of resources
OFFSET_SAVE_INTERVAL = 5.0
# Errors of the disk itself (not of one missing folder): they pause the queue.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM})


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class _Live:
    """A run the engine supervises."""

    kind: RunKind
    run: AgentRun
    task: asyncio.Task[None] | None = None
    saved_offset_at: float = 0.0


class Runs:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._live: dict[str, _Live] = {}  # by marker
        self._starts: set[asyncio.Task[None]] = set()  # runs being started: finished at stop
        self.held_until: dt.datetime | None = None  # after a start failed for want of resources
        self.worktrees = Worktrees(str(engine.home.root))

    def has_live(self) -> bool:
        return bool(self._live)

    # ------------------------------------------------------------ starting

    def start_picked(self, jobs: list[str], investigations: list[str]) -> asyncio.Task[None]:
        """Start the runs the scheduler picked; a stop waits for the start (see `stop`)."""
        now = self._engine.clock.now()
        kinds: list[RunKind] = [JobRun(self._engine, slug, new_run_id(now)) for slug in jobs]
        for slug in investigations:
            job = self._engine.state.jobs.get(slug)
            if job is not None and job.investigation is not None:
                kinds.append(InvestigationRun(self._engine, slug, job.investigation.failed_run_id))
        return self._engine.background(self._start(kinds), self._starts)

    def run_now(self, slug: str) -> None:
        """The user's explicit override for one job: no gate, no group order, no cap."""
        self.start_picked([slug], [])

    async def _start(self, kinds: list[RunKind]) -> None:
        engine = self._engine
        now = engine.clock.now()
        jobs = dict(engine.state.jobs)
        begun: list[RunKind] = []
        for kind in kinds:
            job = jobs.get(kind.slug)
            if job is None or (isinstance(kind, JobRun) and not is_runnable(jobs, job)):
                continue  # changed since it was picked
            started = kind.begin(job, now)
            if started is None:
                continue
            files = kind.files
            try:
                files.create()
            except OSError as exc:
                engine.write_failed(files.folder, exc)
                break
            jobs[kind.slug] = started
            begun.append(kind)
        if not begun:
            return
        engine.commit(replace(engine.state, jobs=jobs))
        assert engine.writer is not None
        try:
            await engine.writer.flush()
        except store.WriteFailed as exc:
            for kind in begun:
                kind.not_started(f"not started: {exc}")
            return
        for kind in begun:
            await self._launch(kind)

    async def _launch(self, kind: RunKind) -> None:
        engine = self._engine
        prompt = await kind.prompt()
        if prompt is None or kind.record() is None:
            return
        marker = kind.marker
        run = self._agent_run(kind)
        config = engine.config
        launch = Launch(
            argv=agent_argv(config.agent.command, kind.model(), config.agent.extra_args, kind.resumes()),
            env=agent_env(engine.environ, config.agent.env_remove, marker),
            cwd=kind.workdir(),
            prompt=prompt,
        )
        try:
            ident = await run.spawn(launch)
        except AgentMissing as exc:  # gone since the last look: the queue waits for it
            engine.set_pause(gates.setup_pause(exc.command, engine.clock.now()))
            kind.not_started(f"not started: {exc}")
            return
        except SpawnError as exc:
            if exc.lasting:  # only the user can fix it: no binary, no cwd
                kind.could_not_start(str(exc))
            else:  # no memory or processes for now: wait a little rather than fail at once again
                self.held_until = engine.clock.now() + dt.timedelta(seconds=START_RETRY)
                kind.not_started(f"not started: {exc}; trying again shortly")
            return
        except OSError as exc:
            engine.write_failed(kind.files.folder, exc)
            kind.not_started(f"not started: cannot write its files ({exc.strerror or exc})")
            return
        kind.recorded(ident.pid, ident.create_time)
        self._write_meta(kind, _launch_record(kind, launch, ident))
        engine.emit(kind.started_event, slug=kind.slug, runId=kind.run_id, pid=ident.pid, **kind.started_fields())
        self._supervise(_Live(kind, run))

    def _agent_run(self, kind: RunKind) -> AgentRun:
        record = kind.record()
        progress: dict[str, Any] = {}
        if isinstance(record, q.CurrentRun):  # a job's run keeps its reading position across restarts
            progress = {"offset": record.log_offset, "summary": record.summary(), "result_at": record.result_at}
        return AgentRun(marker=kind.marker, log_path=kind.files.log, stderr_path=kind.files.stderr,
                        started_at=kind.started_at, limits=kind.limits(), clock=self._engine.clock,
                        on_events=self._engine.housekeeping.spend.guard(kind, self._run_events), **progress)

    # ------------------------------------------------------------ while it runs

    def _supervise(self, live: _Live) -> None:
        self._live[live.run.marker] = live
        live.saved_offset_at = asyncio.get_running_loop().time()
        live.task = asyncio.create_task(self._await_end(live), name=f"run {live.run.marker}")

    async def _await_end(self, live: _Live) -> None:
        try:
            end = await live.run.supervise()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the run must still end, or its row stays running forever
            self._engine.emit(EventName.ENGINE_ERROR, "error", where="supervise", slug=live.kind.slug,
                              error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=8))
            live.run.kill(StopReason.INTERNAL)
            end = RunEnd(ExitInfo(None, spawn_error=f"Overnight lost track of the run ({exc})"), live.run.summary,
                         live.run.offset, live.run.stop_reason)
        await self._ended(live, end)

    async def _ended(self, live: _Live, end: RunEnd) -> None:
        """Its process has ended: the kind's step after the run (a job's verify commands), then
        what the end means. The run stays live meanwhile, so a cancel or a quit still reaches
        what that step started."""
        if self._engine.stopping and live.run.stop_reason is not StopReason.SHUTDOWN:
            self._live.pop(live.run.marker, None)
            return
        try:
            await live.kind.after_run(end)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the run must still end: it finishes without that step
            self._engine.emit(EventName.ENGINE_ERROR, "error", where="after_run", slug=live.kind.slug,
                              error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=8))
        finally:
            self._live.pop(live.run.marker, None)
        end.stop_reason = live.run.stop_reason  # a cancel or a quit during that step
        live.kind.finished(end)

    def _run_events(self, run: AgentRun, events: list[Event]) -> None:
        live = self._live.get(run.marker)
        if live is None:
            return
        engine = self._engine
        is_job = isinstance(live.kind, JobRun)
        for event in events:
            if isinstance(event, RateLimit) and event.status == "rejected":
                resets = rejection_reset(event, engine.clock.now())
                # The freshest reading there is: nothing new starts while that window is full.
                engine.set_usage(gates.with_rejection(engine.usage, event.limit_type, resets))
            if isinstance(event, Result) and is_job:
                engine.emit(EventName.JOB_RESULT, slug=live.kind.slug, runId=live.kind.run_id, subtype=event.subtype,
                            isError=event.is_error)
        job = engine.state.jobs.get(live.kind.slug)
        if not is_job or job is None or live.kind.record() is None:
            return
        important = any(isinstance(e, (Init, Result, RateLimit)) for e in events)
        now = asyncio.get_running_loop().time()
        if important or now - live.saved_offset_at >= OFFSET_SAVE_INTERVAL:
            live.saved_offset_at = now
            engine.put(_with_progress(job, run))

    def save_offsets(self, force: bool = False) -> None:
        """Where each job's reader is, so a restarted engine reads on from there."""
        engine = self._engine
        jobs = dict(engine.state.jobs)
        changed = False
        for live in self._live.values():
            job = jobs.get(live.kind.slug)
            if not isinstance(live.kind, JobRun) or job is None or live.kind.record() is None:
                continue
            assert job.current is not None
            if force or job.current.log_offset != live.run.offset:
                jobs[job.slug] = _with_progress(job, live.run)
                changed = True
        if changed:
            engine.commit(replace(engine.state, jobs=jobs))

    def stop_run(self, job: Job) -> None:
        """The user's cancel of a running job: its process is stopped, or, before it exists, the
        flag stops it from being started."""
        assert job.current is not None
        live = self._live.get(run_marker(job.current.run_id, job.slug))
        if live is not None:
            live.run.stop(StopReason.CANCEL)
        self._engine.put(q.update_run(job, stopping=StopReason.CANCEL))

    def stop_investigation(self, slug: str) -> None:
        for live in self._live.values():
            if isinstance(live.kind, InvestigationRun) and live.kind.slug == slug:
                live.run.stop(StopReason.CANCEL)

    # ------------------------------------------------------------ ending

    def usage_limit_hit(self, limit: UsageLimitHit) -> None:
        engine = self._engine
        engine.set_usage(gates.with_rejection(engine.usage, limit.limit_type, limit.resets_at))
        engine.set_pause(limit.pause)

    def write_outcome(self, kind: RunKind, outcome: Outcome, end: RunEnd, finished_at: dt.datetime) -> None:
        self._write_meta(kind, _outcome_record(outcome, end, finished_at))

    def _write_meta(self, kind: RunKind, record: Mapping[str, Any]) -> None:
        """What Overnight decided about a run, beside its transcript (merged into what is there)."""
        try:
            path = kind.files.meta
        except ValueError:  # a record from a damaged queue.json: nowhere to write
            return
        merged: dict[str, Any] = {}
        try:
            loaded = json.loads(path.read_bytes())
        except (OSError, ValueError):
            loaded = None
        if isinstance(loaded, dict):
            merged.update(loaded)
        merged.update(record)
        try:
            write_private_atomically(path, json.dumps(merged, indent=2).encode())
        except OSError as exc:
            self._engine.emit(EventName.META_FAILED, "warning", path=str(path), error=str(exc))
            if exc.errno in DISK_ERRNOS:
                self._engine.write_failed(path, exc)

    # ------------------------------------------------------------ restart and stop

    async def restore(self) -> None:
        """Adopt runs a previous engine left alive; finish the ones that ended meanwhile. A run
        record that cannot be used (it points nowhere) is finished as cut short, alone."""
        await self.worktrees.prune(job.workspace.repo for job in self._engine.state.jobs.values() if job.workspace)
        for slug in list(self._engine.state.jobs):
            for kind in self._recorded_runs(slug):
                try:
                    await self._restore(kind)
                except Exception as exc:  # one unusable record must not stop the start
                    kind.unusable(exc)

    def _recorded_runs(self, slug: str) -> Iterable[RunKind]:
        job = self._engine.state.jobs.get(slug)
        if job is not None and job.current is not None:
            yield JobRun(self._engine, slug, job.current.run_id)
        job = self._engine.state.jobs.get(slug)  # the job's run may have just finished
        inv = job.investigation if job is not None else None
        if inv is not None and inv.status is InvestigationStatus.RUNNING:
            yield InvestigationRun(self._engine, slug, inv.failed_run_id)

    async def _restore(self, kind: RunKind) -> None:
        record = kind.record()
        assert record is not None
        ident = await asyncio.to_thread(procs.find_run_process, record.pid, record.pid_create_time, kind.marker,
                                        kind.started_at)
        run = self._agent_run(kind)
        stopping = kind.stopping
        if ident is not None:
            run.adopt(ident)
            if record.pid != ident.pid:
                kind.recorded(ident.pid, ident.create_time)
            self._engine.emit(kind.adopted_event, slug=kind.slug, runId=kind.run_id, pid=ident.pid)
            if stopping is not None:
                run.stop(stopping)  # a cancel or watchdog the previous engine had begun
            self._supervise(_Live(kind, run))
            return
        if stopping is not None:
            run.stop_reason = stopping
        end = await run.read_end()
        live = _Live(kind, run)  # its step after the run (verify) runs again from the start
        self._live[run.marker] = live
        live.task = asyncio.create_task(self._ended(live, end), name=f"end of run {run.marker}")

    async def stop(self, *, stop_jobs: bool) -> None:
        """A start under way finishes first, so its run is supervised (and stopped or left) like
        the rest: cut short, its job would stay `running` on disk with no process behind it."""
        await asyncio.gather(*self._starts, return_exceptions=True)
        live = list(self._live.values())
        if stop_jobs:
            for entry in live:
                entry.run.stop(StopReason.SHUTDOWN)
        else:
            for entry in live:
                if entry.task:
                    entry.task.cancel()
        await asyncio.gather(*(entry.task for entry in live if entry.task), return_exceptions=True)
        if not stop_jobs:
            self.save_offsets(force=True)


def _with_progress(job: Job, run: AgentRun) -> Job:
    summary = run.summary
    return q.update_run(
        job,
        log_offset=run.offset,
        result=summary.result,
        result_at=run.result_at,
        rejected=summary.rejected,
        limit_message=summary.limit_message,
        skipped_lines=summary.skipped,
        stopping=run.stop_reason,
        session_id=summary.session_id,
        api_key_source=summary.api_key_source,
    )


def _launch_record(kind: RunKind, launch: Launch, ident: ProcessId) -> dict[str, Any]:
    return {
        "slug": kind.slug,
        "runId": kind.run_id,
        "argv": launch.argv,
        "cwd": launch.cwd,
        "marker": launch.env.get(MARKER),
        "pid": ident.pid,
        "pidCreateTime": ident.create_time,
        "startedAt": iso_ms(kind.started_at),
    }


def _outcome_record(outcome: Outcome, end: RunEnd, finished_at: dt.datetime) -> dict[str, Any]:
    result = end.summary.result
    return {
        "outcome": outcome.kind,
        "reason": outcome.reason,
        "finishedAt": iso_ms(finished_at),
        "exitCode": end.exit.returncode,
        "stoppedBy": end.stop_reason,
        "spawnError": end.exit.spawn_error,
        "resetsAt": iso_ms(outcome.resets_at) if outcome.resets_at else None,
        "limitType": outcome.limit_type,
        "costUsd": result.total_cost_usd if result else None,
        "numTurns": result.num_turns if result else None,
        "resultText": result_start(result),
        "durationMsReported": result.duration_ms if result else None,
        "skippedLines": end.summary.skipped,
        "leftoversKilled": [ident.pid for ident in end.killed_leftovers],
    }
