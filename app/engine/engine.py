"""The engine: the single writer of the queue. Folder, process and meter events come in;
the core decides; the engine persists and acts; events go out to logs, the CLI and the GUI.

Everything here runs on one asyncio loop. State changes happen synchronously between
awaits, so two ticks can never pick the same job: a job is marked running (and that is
made durable) before its process is started.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import shutil
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.config import (
    Config,
    ConfigLoad,
    concurrency_env_problem,
    effective_concurrency_cap,
    gate_policy,
    load_config,
)
from app.core import gate as gates
from app.core import queue as q
from app.core.agent import MARKER, agent_argv, agent_env, run_marker
from app.core.batching import is_idle, pick_investigations, pick_next, waiting_reason
from app.core.investigation import (
    fix_plan_slug,
    investigation_prompt,
    should_investigate,
    transcript_tail,
)
from app.core.meter import MeterHealth, PollResult, after_poll
from app.core.prd import MAX_PRD_BYTES, body_of, is_ignored
from app.core.queue import (
    CurrentRun,
    Investigation,
    InvestigationStatus,
    Job,
    LastRun,
    Pause,
    PauseReason,
    QueueState,
    Status,
)
from app.core.reconcile import FileChange, Note, PrdDefaults, link_fix_plan, reconcile
from app.core.settle import settle
from app.core.stream import Event, ExitInfo, Outcome, RateLimit, Result, RunSummary, classify
from app.core.usage import UNKNOWN, Usage
from app.engine import procs, store
from app.engine.events import EngineEvent, FileLog, Heartbeat, iso_ms
from app.engine.procs import ProcessId
from app.engine.runner import AgentRun, Launch, Limits, RunEnd, SpawnError
from app.engine.usage import UsageMeter, credentials_path, installed_cli_version, meter_url, user_agent
from app.engine.watcher import FolderWatcher
from app.paths import Home, ensure_home, write_private_atomically

TIMER_INTERVAL = 0.5
RESCAN_INTERVAL = 30.0
HEARTBEAT_INTERVAL = 60.0
PRUNE_INTERVAL = 3600.0
OFFSET_SAVE_INTERVAL = 5.0
FIRST_POLL_TIMEOUT = 12.0
INVESTIGATION_SUFFIX = ".investigation"

Listener = Callable[[EngineEvent], None]
StateListener = Callable[[QueueState, list[str]], None]


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class CommandError(Exception):
    """A command the engine refuses, with the reason shown to the user."""


@dataclass(slots=True)
class _Live:
    """A process the engine supervises: a job's run or a failed job's investigation."""

    slug: str
    run_id: str
    run: AgentRun
    investigation: bool
    task: asyncio.Task[None] | None = None
    saved_offset_at: float = 0.0


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class Engine:
    def __init__(
        self,
        home: Home,
        *,
        clock: Any = None,
        environ: Mapping[str, str] | None = None,
        local_tz: dt.tzinfo | None = None,
    ) -> None:
        self.home = home
        self.clock = clock or SystemClock()
        self.environ = dict(os.environ if environ is None else environ)
        self.local_tz = local_tz or dt.datetime.now().astimezone().tzinfo
        self.state = QueueState()
        self.config = Config()
        self.config_problems: list[str] = []
        self.meter_health = MeterHealth()
        self.warnings: list[str] = []
        self.started_at: dt.datetime | None = None
        self.on_show: Callable[[], None] | None = None
        self._listeners: list[Listener] = []
        self._state_listeners: list[StateListener] = []
        self._live: dict[str, _Live] = {}  # by marker
        self._writer: store.QueueWriter | None = None
        self._watcher: FolderWatcher | None = None
        self._meter: UsageMeter | None = None
        self._meter_wake = asyncio.Event()
        self._tick_wanted = asyncio.Event()
        self._pending_names: set[str] = set()
        self._reading = False
        self._tasks: list[asyncio.Task[None]] = []  # the loops
        self._chores: set[asyncio.Task[None]] = set()  # folder reads: cancelled at stop
        self._starts: set[asyncio.Task[None]] = set()  # runs being started: finished at stop
        self._stopping = False
        self._file_log: FileLog | None = None
        self._heartbeat = Heartbeat(home.heartbeat)
        self._config_mtime: float | None = None
        self._credentials_mtime: float | None = None
        self._next_gate_check: dt.datetime | None = None
        self._next_poll_in = self.config.usage.poll_seconds
        self._force_next_tick = False
        self._last = {"rescan": 0.0, "heartbeat": 0.0, "prune": -PRUNE_INTERVAL}
        self._seen: dict[str, Signature] = {}  # size and mtime of each PRD when last read

    # ================================================================ listeners

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def subscribe_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        record = EngineEvent(event, self.clock.now(), fields, level)
        for listener in list(self._listeners):
            listener(record)

    # ================================================================ start and stop

    async def start(self) -> None:
        """Everything up to the first tick. The lock is the caller's (one engine per home)."""
        ensure_home(self.home)
        self._file_log = FileLog(self.home.log_file)
        self.subscribe(self._file_log)
        now = self.clock.now()
        self.started_at = now
        self._load_config()
        loaded = store.load(self.home, now)
        if loaded.warning:
            self.warnings.append(loaded.warning)
            self.emit("queue.restored", "warning", message=loaded.warning)
        self._writer = store.QueueWriter(self.home)
        usage = replace(loaded.state.usage, stale=True) if loaded.state.usage.known else loaded.state.usage
        self._commit(replace(loaded.state, engine=q.EngineInfo(os.getpid(), now), usage=usage))
        self.emit("engine.started", pid=os.getpid(), home=str(self.home.root))
        if loaded.state.paused is not None:
            self.emit("queue.paused", "warning", reason=loaded.state.paused.reason.value,
                      resumeAt=_iso(loaded.state.paused.resume_at), message=loaded.state.paused.message)
        await self._restore_live_runs()
        await self._rescan(everything=True)
        self._watcher = FolderWatcher(self.home.prds, self._file_ready)
        self._watcher.start()
        self._credentials_mtime = _mtime(credentials_path(self.environ))
        moment = asyncio.get_running_loop().time()
        self._last.update(rescan=moment, heartbeat=moment - HEARTBEAT_INTERVAL)
        version = await installed_cli_version(self._agent_command())
        self._meter = UsageMeter(
            url=meter_url(self.config.usage.url, self.environ),
            user_agent=user_agent(version),
            environ=self.environ,
        )
        # A full meter must hold the queue from the first second: poll before anything starts.
        try:
            await asyncio.wait_for(self._poll_meter(), FIRST_POLL_TIMEOUT)
        except TimeoutError:
            self.emit("usage.failed", "warning", kind="transient", status=None)
        self._tasks = [
            asyncio.create_task(self._keep_running(self._meter_step), name="meter"),
            asyncio.create_task(self._keep_running(self._timer_step), name="timer"),
            asyncio.create_task(self._keep_running(self._tick_step), name="ticks"),
        ]
        self.request_tick()

    async def stop(self, *, stop_jobs: bool) -> None:
        """Leave running agents alive (they are adopted at the next start) or stop them."""
        self._stopping = True
        if self._watcher:
            self._watcher.stop()
        for task in [*self._tasks, *self._chores]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._chores, return_exceptions=True)
        # A start under way finishes, so its run is supervised (and stopped or left) like the rest:
        # cut short, its job would stay `running` on disk with no process behind it.
        await asyncio.gather(*self._starts, return_exceptions=True)
        live = list(self._live.values())
        if stop_jobs:
            for entry in live:
                entry.run.stop("shutdown")
            await asyncio.gather(*(entry.task for entry in live if entry.task), return_exceptions=True)
        else:
            for entry in live:
                if entry.task:
                    entry.task.cancel()
            await asyncio.gather(*(entry.task for entry in live if entry.task), return_exceptions=True)
            self._save_offsets(force=True)
        self._commit(replace(self.state, engine=None))
        if self._meter:
            await self._meter.aclose()
        if self._writer:
            await self._writer.flush()
            self._writer.close()
        self.emit("engine.stopped")
        if self._file_log:
            self._file_log.close()

    # ================================================================ state

    async def flush(self) -> None:
        """Wait until every state change so far is on disk."""
        assert self._writer is not None
        await self._writer.flush()

    def _commit(self, state: QueueState) -> None:
        old = self.state
        self.state = state
        assert self._writer is not None
        self._writer.save(state)
        if state.jobs is old.jobs:
            changed = []
        else:
            changed = [slug for slug, job in state.jobs.items() if old.jobs.get(slug) is not job]
            changed += [slug for slug in old.jobs if slug not in state.jobs]
        for listener in list(self._state_listeners):
            listener(state, changed)

    def _put(self, job: Job) -> None:
        jobs = dict(self.state.jobs)
        jobs[job.slug] = job
        self._commit(replace(self.state, jobs=jobs))

    def _drop(self, slug: str, why: str) -> None:
        job = self.state.jobs.get(slug)
        if job is None:
            return
        self._seen.pop(f"{slug}.md", None)
        jobs = dict(self.state.jobs)
        del jobs[slug]
        self._commit(replace(self.state, jobs=jobs))
        self._history({"event": "removed", "slug": slug, "status": job.status.value, "why": why})
        self.emit("prd.removed", slug=slug)

    def _history(self, record: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.append_history({"ts": iso_ms(self.clock.now()), **record})

    @property
    def usage(self) -> Usage:
        return self.state.usage

    def _set_usage(self, usage: Usage) -> None:
        if usage != self.state.usage:
            self._commit(replace(self.state, usage=usage))

    def _set_pause(self, pause: Pause) -> None:
        combined = gates.pause_with(self.state.paused, pause)
        if combined == self.state.paused:
            return
        self._commit(replace(self.state, paused=combined))
        self.emit("queue.paused", "warning", reason=combined.reason.value,
                  resumeAt=_iso(combined.resume_at), message=combined.message)

    def _clear_pause(self, why: str) -> None:
        if self.state.paused is None:
            return
        reason = self.state.paused.reason.value
        self._commit(replace(self.state, paused=None))
        self.emit("queue.resumed", reason=why, was=reason)
        self.request_tick()

    # ================================================================ config

    def _load_config(self) -> None:
        loaded: ConfigLoad = load_config(self.home.config, self.config if self.started_at else None)
        previous = self.config
        self.config = loaded.config
        self.config_problems = [error.message() for error in loaded.errors]
        try:
            self._config_mtime = self.home.config.stat().st_mtime
        except OSError:
            self._config_mtime = None
        if not loaded.ok:
            self.emit("config.invalid", "error", message=loaded.summary())
        elif previous != self.config and self._writer is not None:
            self.emit("config.loaded")
        if self._writer is not None and (
            previous.default_cwd != self.config.default_cwd or previous.agent.model != self.config.agent.model
        ):
            # PRDs without their own cwd/model follow the new defaults.
            self._background(self._rescan(reparse=True), self._chores)

    def _agent_command(self) -> str:
        return self.config.agent.command

    def cap(self) -> int:
        return effective_concurrency_cap(self.config, self.environ)

    def problems(self) -> list[str]:
        """What the user should know about the settings and the queue file."""
        env = concurrency_env_problem(self.environ)
        return [*self.config_problems, *([env] if env else []), *self.warnings]

    def _policy(self) -> gates.GatePolicy:
        return gate_policy(self.config)

    def _limits(self, investigation: bool) -> Limits:
        w = self.config.watchdog
        max_duration = self.config.investigation.max_duration if investigation else w.max_duration
        return Limits(w.post_result_grace, w.kill_after, w.idle, max_duration)

    # ================================================================ the folder

    def _defaults(self) -> PrdDefaults:
        return PrdDefaults(
            prds_dir=str(self.home.prds),
            default_cwd=self.config.resolved_default_cwd(),
            default_model=self.config.agent.model,
        )

    def _file_ready(self, name: str) -> None:
        if is_ignored(name):
            return
        self._pending_names.add(name)
        if not self._reading:
            self._reading = True
            self._background(self._read_pending(), self._chores)

    async def _read_pending(self) -> None:
        try:
            while self._pending_names:
                names, self._pending_names = self._pending_names, set()
                self._reconcile(await self._read(sorted(names)))
        finally:
            self._reading = False

    async def _read(self, names: Iterable[str]) -> list[FileChange]:
        changes, seen = await asyncio.to_thread(_read_files, self.home.prds, names)
        self._seen.update(seen)
        return changes

    async def _rescan(self, everything: bool = False, reparse: bool = False) -> None:
        """The whole folder against the queue: at start (every file is read: its content, not its
        mtime, says whether it changed), every RESCAN_INTERVAL as a safety net for missed folder
        events (files whose size or mtime moved), and after a change of the defaults."""
        listing = await asyncio.to_thread(_list_prds, self.home.prds)
        known = {f"{slug}.md" for slug in self.state.jobs}
        if everything or reparse:
            names = list(listing)
        else:
            names = [name for name, signature in listing.items() if self._seen.get(name) != signature]
        changes = await self._read(names)
        gone = (known | set(self._seen)) - set(listing)
        for name in gone:
            self._seen.pop(name, None)
        changes += [FileChange(name, None) for name in sorted(gone & known)]
        self._reconcile(changes, reparse=reparse)

    def _reconcile(self, changes: list[FileChange], reparse: bool = False) -> None:
        if not changes:
            return
        new_state, notes = reconcile(self.state, changes, self._defaults(), self.clock.now(), reparse=reparse)
        if new_state is not self.state:
            self._commit(new_state)
        self._announce(notes)
        self._follow_notes(notes)
        self.request_tick()

    def _announce(self, notes: Iterable[Note]) -> None:
        for note in notes:
            self.emit(note.event, note.level, **note.fields)
            if note.event == "prd.removed":
                self._history({"event": "removed", **note.fields})

    def _follow_notes(self, notes: Iterable[Note]) -> None:
        for note in notes:
            if note.event == "job.requeued":
                # The user changed a failed PRD: their fix replaces the investigation's.
                self._stop_investigation(note.fields["slug"])

    # ================================================================ ticks

    def request_tick(self, force: bool = False) -> None:
        self._force_next_tick |= force
        self._tick_wanted.set()

    async def _keep_running(self, step: Callable[[], Awaitable[None]]) -> None:
        """A background duty that must survive its own bugs: an engine that silently stops
        ticking is the worst failure an unattended queue can have."""
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self.emit("engine.error", "error", where=step.__name__, error=f"{type(exc).__name__}: {exc}",
                          trace=traceback.format_exc(limit=8))
                await asyncio.sleep(1)

    async def _tick_step(self) -> None:
        await self._tick_wanted.wait()
        self._tick_wanted.clear()
        force, self._force_next_tick = self._force_next_tick, False
        await self._tick(force)

    async def _tick(self, force: bool = False) -> None:
        now = self.clock.now()
        state = self.state
        if state.paused is not None and gates.resume_due(state.paused, now):
            self._clear_pause("reset time reached")
            state = self.state
        has_work = any(job.status in (Status.PENDING, Status.RUNNING) for job in state.jobs.values())
        on_reset = gates.advance_on_reset(state.on_reset, self._policy(), self.usage, has_work, now)
        if on_reset != state.on_reset:
            self._commit(replace(self.state, on_reset=on_reset))
        if force:
            self._clear_pause("force tick")
        decision = gates.decide(self._policy(), self.usage, self.state.paused, on_reset, now, force=force)
        if isinstance(decision, gates.Closed):
            self._next_gate_check = decision.until
            return
        self._next_gate_check = None
        jobs = pick_next(self.state.jobs, self.cap())
        investigations = pick_investigations(self.state.jobs, self.config.investigation.max_concurrent)
        if jobs or investigations:
            self._commit(replace(self.state, last_tick_at=now))
            # Shielded: a stop cancels the tick, but not a start it has begun.
            await asyncio.shield(self._background(self._start_runs(jobs, investigations), self._starts))

    def _background(self, work: Coroutine[Any, Any, None], group: set[asyncio.Task[None]]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        group.add(task)
        task.add_done_callback(group.discard)
        return task

    # ================================================================ starting runs

    async def _start_runs(self, jobs: list[str], investigations: list[str]) -> None:
        await self._start_jobs(jobs)
        for slug in investigations:
            await self._start_investigation(slug)

    async def _start_jobs(self, slugs: list[str]) -> None:
        if not slugs:
            return
        now = self.clock.now()
        starts = []
        jobs = dict(self.state.jobs)
        for slug in slugs:
            job = jobs[slug]
            run_id = new_run_id(now)
            run_dir = self.home.run_dir(run_id)
            current = CurrentRun(
                run_id=run_id,
                started_at=now,
                log_path=str(run_dir / f"{slug}.jsonl"),
                content_hash=job.content_hash,
            )
            jobs[slug] = q.start(job, current, now)
            starts.append(jobs[slug])
        self._commit(replace(self.state, jobs=jobs))
        # Durable before any process exists: a crash can then never forget that a run began.
        assert self._writer is not None
        await self._writer.flush()
        for job in starts:
            await self._spawn_job(job)

    async def _spawn_job(self, job: Job) -> None:
        assert job.current is not None
        current = job.current
        run_dir = Path(current.log_path).parent
        marker = run_marker(current.run_id, job.slug)
        try:
            prompt = await asyncio.to_thread(_read_prompt, self.home.prds / f"{job.slug}.md")
        except OSError as exc:
            self._spawn_failed(job, f"the PRD could not be read: {exc.strerror or exc}")
            return
        latest = self.state.jobs.get(job.slug)
        if latest is not None and latest.current is not None and latest.current.stopping == "cancel":
            self._finish_job(job.slug, current.run_id, RunEnd(ExitInfo(None, cancelled=True), RunSummary(), 0, "cancel"))
            return
        await asyncio.to_thread(_make_private_dir, run_dir)
        run = self._new_run(marker, Path(current.log_path), run_dir / f"{job.slug}.stderr.log", current, False)
        launch = Launch(
            argv=agent_argv(self._agent_command(), job.model or self.config.agent.model, self.config.agent.extra_args),
            env=agent_env(self.environ, self.config.agent.env_remove, marker),
            cwd=job.cwd,
            prompt=prompt,
        )
        try:
            ident = await run.spawn(launch)
        except SpawnError as exc:
            self._spawn_failed(job, str(exc))
            return
        live = self.state.jobs.get(job.slug)
        if live is not None and live.current is not None and live.current.run_id == current.run_id:
            self._put(q.update_run(live, pid=ident.pid, pid_create_time=ident.create_time))
        self._write_meta(run_dir / f"{job.slug}.meta.json", _launch_record(job.slug, current.run_id, launch, ident,
                                                                           current.started_at))
        self.emit("job.started", slug=job.slug, runId=current.run_id, pid=ident.pid, group=job.group)
        self._supervise(_Live(job.slug, current.run_id, run, False))

    def _spawn_failed(self, job: Job, reason: str) -> None:
        assert job.current is not None
        end = RunEnd(ExitInfo(returncode=None, spawn_error=reason), RunSummary(), 0)
        self._finish_job(job.slug, job.current.run_id, end)

    def _new_run(
        self, marker: str, log: Path, stderr: Path, current: CurrentRun | Investigation, investigation: bool
    ) -> AgentRun:
        if isinstance(current, CurrentRun):
            return AgentRun(
                marker=marker,
                log_path=log,
                stderr_path=stderr,
                started_at=current.started_at,
                limits=self._limits(investigation),
                clock=self.clock,
                on_events=self._run_events,
                offset=current.log_offset,
                summary=current.summary(),
                result_at=current.result_at,
            )
        return AgentRun(
            marker=marker,
            log_path=log,
            stderr_path=stderr,
            started_at=current.started_at or self.clock.now(),
            limits=self._limits(investigation),
            clock=self.clock,
            on_events=self._run_events,
        )

    def _supervise(self, live: _Live) -> None:
        self._live[live.run.marker] = live
        live.saved_offset_at = asyncio.get_running_loop().time()
        live.task = asyncio.create_task(self._await_end(live), name=f"run {live.run.marker}")

    async def _await_end(self, live: _Live) -> None:
        try:
            end = await live.run.supervise()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — the run must still end, or its row stays running forever
            self.emit("engine.error", "error", where="supervise", slug=live.slug, error=f"{type(exc).__name__}: {exc}",
                      trace=traceback.format_exc(limit=8))
            live.run.kill("internal")
            end = RunEnd(ExitInfo(None, spawn_error=f"Overnight lost track of the run ({exc})"), live.run.summary,
                         live.run.offset, live.run.stop_reason)
        self._live.pop(live.run.marker, None)
        if self._stopping and live.run.stop_reason != "shutdown":
            return
        if live.investigation:
            self._finish_investigation(live.slug, end)
        else:
            self._finish_job(live.slug, live.run_id, end)

    # ================================================================ while runs run

    def _run_events(self, run: AgentRun, events: list[Event]) -> None:
        live = self._live.get(run.marker)
        if live is None:
            return
        for event in events:
            if isinstance(event, RateLimit) and event.status == "rejected":
                resets = dt.datetime.fromtimestamp(event.resets_at, dt.UTC) if event.resets_at else None
                # The freshest reading there is: nothing new starts while that window is full.
                self._set_usage(gates.with_rejection(self.usage, event.limit_type, resets))
            if isinstance(event, Result) and not live.investigation:
                self.emit("job.result", slug=live.slug, runId=live.run_id, subtype=event.subtype, isError=event.is_error)
        if live.investigation:
            return
        job = self.state.jobs.get(live.slug)
        if job is None or job.current is None or job.current.run_id != live.run_id:
            return
        important = any(isinstance(e, (Result, RateLimit)) for e in events)
        now = asyncio.get_running_loop().time()
        if important or now - live.saved_offset_at >= OFFSET_SAVE_INTERVAL:
            live.saved_offset_at = now
            self._put(self._with_progress(job, run))

    def _with_progress(self, job: Job, run: AgentRun) -> Job:
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
        )

    def _save_offsets(self, force: bool = False) -> None:
        jobs = dict(self.state.jobs)
        changed = False
        for live in self._live.values():
            job = jobs.get(live.slug)
            if live.investigation or job is None or job.current is None or job.current.run_id != live.run_id:
                continue
            if force or job.current.log_offset != live.run.offset:
                jobs[live.slug] = self._with_progress(job, live.run)
                changed = True
        if changed:
            self._commit(replace(self.state, jobs=jobs))

    # ================================================================ runs ending

    def _finish_job(self, slug: str, run_id: str, end: RunEnd) -> None:
        job = self.state.jobs.get(slug)
        if job is None or job.current is None or job.current.run_id != run_id:
            return
        now = self.clock.now()
        current = job.current
        outcome = classify(end.summary, end.exit, now, self.local_tz)
        settled = settle(job, outcome, end.exit, end.stop_reason, self.config.retry_interrupted)
        status, reason, interrupted = settled.status, settled.reason, settled.interrupted
        result = end.summary.result
        last = LastRun(
            run_id=run_id,
            outcome=outcome.kind,
            exit_code=end.exit.returncode,
            finished_at=now,
            duration_ms=int((now - current.started_at).total_seconds() * 1000),
            cost_usd=result.total_cost_usd if result else None,
            num_turns=result.num_turns if result else None,
            reason=outcome.reason,
        )
        finished = q.finish(job, status, last, now, reason)
        if interrupted and status is Status.PENDING:
            finished = replace(finished, interrupted_retries=job.interrupted_retries + 1)
        if (
            status is Status.FAILED
            and not interrupted
            and should_investigate(
                self.state.jobs, finished, spawn_error=outcome.spawn_error, enabled=self.config.investigation.enabled
            )
        ):
            finished = replace(
                finished,
                investigation=Investigation(
                    InvestigationStatus.WAITING, fix_plan_slug(slug, job.group), failed_run_id=run_id
                ),
            )
        self._put(finished)
        if outcome.resets_at is not None or outcome.kind == "rate_limited":
            self._rate_limited(outcome, now)
        self._history(
            {
                "event": "run.finished",
                "kind": "job",
                "slug": slug,
                "runId": run_id,
                "outcome": outcome.kind,
                "status": status.value,
                "reason": reason,
                "exitCode": end.exit.returncode,
                "startedAt": iso_ms(current.started_at),
                "finishedAt": iso_ms(now),
                "durationMs": last.duration_ms,
                "costUsd": last.cost_usd,
                "numTurns": last.num_turns,
                "contentHash": current.content_hash,
            }
        )
        meta = Path(current.log_path).with_name(f"{slug}.meta.json")
        self._write_meta(meta, _outcome_record(outcome, end, now))
        self.emit(
            "job.finished",
            "info" if outcome.kind == "completed" else "warning",
            slug=slug,
            runId=run_id,
            outcome=outcome.kind,
            reason=outcome.reason,
            exitCode=end.exit.returncode,
        )
        if end.killed_leftovers:
            self.emit("run.leftovers_killed", "warning", slug=slug, runId=run_id,
                      pids=[ident.pid for ident in end.killed_leftovers])
        if finished.file_gone and not finished.is_busy:
            self._drop(slug, "its PRD was removed during the run")
        self.request_tick()

    def _rate_limited(self, outcome: Outcome, now: dt.datetime) -> None:
        resets_at = outcome.resets_at
        self._set_usage(gates.with_rejection(self.usage, outcome.limit_type, resets_at))
        self._set_pause(gates.rate_limit_pause(resets_at, outcome.limit_type, self.config.usage.resume_margin, now))

    def _write_meta(self, path: Path, record: Mapping[str, Any]) -> None:
        """What Overnight decided about a run, beside its transcript (merged into what is there)."""
        merged: dict[str, Any] = {}
        try:
            merged.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
        merged.update(record)
        try:
            write_private_atomically(path, json.dumps(merged, indent=2).encode())
        except OSError as exc:
            self.emit("meta.failed", "warning", path=str(path), error=str(exc))

    # ================================================================ investigations

    async def _start_investigation(self, slug: str) -> None:
        job = self.state.jobs[slug]
        inv = job.investigation
        assert inv is not None and job.last is not None
        now = self.clock.now()
        run_dir = self.home.run_dir(inv.failed_run_id)
        log = run_dir / f"{slug}{INVESTIGATION_SUFFIX}.jsonl"
        started = replace(inv, status=InvestigationStatus.RUNNING, run_id=inv.failed_run_id, started_at=now,
                          log_path=str(log))
        self._put(replace(job, investigation=started))
        assert self._writer is not None
        await self._writer.flush()
        failed_log = run_dir / f"{slug}.jsonl"
        body, tail = await asyncio.to_thread(_investigation_inputs, self.home.prds / f"{slug}.md", failed_log)
        fix_path = self.home.prds / f"{inv.fix_plan_slug}.md"
        prompt = investigation_prompt(
            job=job, reason=job.last.reason, body=body, transcript=tail, log_path=str(failed_log),
            fix_path=str(fix_path),
        )
        marker = run_marker(inv.failed_run_id, slug + INVESTIGATION_SUFFIX)
        run = self._new_run(marker, log, run_dir / f"{slug}{INVESTIGATION_SUFFIX}.stderr.log", started, True)
        launch = Launch(
            argv=agent_argv(self._agent_command(), self.config.investigation.model, self.config.agent.extra_args),
            env=agent_env(self.environ, self.config.agent.env_remove, marker),
            cwd=job.cwd,
            prompt=prompt.encode(),
        )
        try:
            ident = await run.spawn(launch)
        except SpawnError as exc:
            self._end_investigation(slug, InvestigationStatus.NO_FIX_PLAN, f"could not start: {exc}")
            return
        current = self.state.jobs.get(slug)
        if current is not None and current.investigation is not None:
            self._put(replace(current, investigation=replace(current.investigation, pid=ident.pid,
                                                              pid_create_time=ident.create_time)))
        self._write_meta(run_dir / f"{slug}{INVESTIGATION_SUFFIX}.meta.json",
                         _launch_record(slug, inv.failed_run_id, launch, ident, now))
        self.emit("investigation.started", slug=slug, runId=inv.failed_run_id, pid=ident.pid,
                  fixPlan=inv.fix_plan_slug)
        self._supervise(_Live(slug, inv.failed_run_id, run, True))

    def _finish_investigation(self, slug: str, end: RunEnd) -> None:
        job = self.state.jobs.get(slug)
        if job is None or job.investigation is None:
            return
        inv = job.investigation
        now = self.clock.now()
        outcome = classify(end.summary, end.exit, now, self.local_tz)
        fix_path = self.home.prds / f"{inv.fix_plan_slug}.md"
        meta = self.home.run_dir(inv.failed_run_id) / f"{slug}{INVESTIGATION_SUFFIX}.meta.json"
        self._write_meta(meta, _outcome_record(outcome, end, now))
        if not fix_path.exists() and (outcome.kind == "rate_limited" or end.stop_reason == "shutdown"):
            # Not the investigation's failure: it waits for its turn again.
            why = f"usage limit: {outcome.reason}" if outcome.kind == "rate_limited" else "stopped when Overnight quit"
            self._put(replace(job, investigation=replace(inv, status=InvestigationStatus.WAITING, pid=None,
                                                         reason=why)))
            if outcome.kind == "rate_limited":
                self._rate_limited(outcome, now)
            return
        if fix_path.exists():
            # Reconcile it now rather than wait for the watcher, so the link is made at once.
            self._reconcile(_read_files(self.home.prds, [fix_path.name])[0])
            self._end_investigation(slug, InvestigationStatus.WROTE_FIX_PLAN, f"wrote {inv.fix_plan_slug}")
        else:
            why = "the investigation ended without writing the fix plan"
            if outcome.kind != "completed":
                why += f" ({outcome.reason})"
            self._end_investigation(slug, InvestigationStatus.NO_FIX_PLAN, why)
        self._history({"event": "run.finished", "kind": "investigation", "slug": slug, "runId": inv.failed_run_id,
                       "outcome": outcome.kind, "reason": outcome.reason, "fixPlan": inv.fix_plan_slug
                       if fix_path.exists() else None})

    def _end_investigation(self, slug: str, status: InvestigationStatus, reason: str) -> None:
        job = self.state.jobs.get(slug)
        if job is None or job.investigation is None:
            return
        inv = replace(job.investigation, status=status, finished_at=self.clock.now(), pid=None, reason=reason)
        jobs = dict(self.state.jobs)
        jobs[slug] = replace(job, investigation=inv)
        if status is InvestigationStatus.WROTE_FIX_PLAN and inv.fix_plan_slug in jobs:
            link_fix_plan(jobs, inv.fix_plan_slug)
        self._commit(replace(self.state, jobs=jobs))
        fix = inv.fix_plan_slug if status is InvestigationStatus.WROTE_FIX_PLAN else None
        self.emit("investigation.finished", "info" if fix else "warning", slug=slug, fixPlan=fix, reason=reason)
        if jobs[slug].file_gone:
            self._drop(slug, "its PRD was removed during its investigation")
        self.request_tick()

    def _stop_investigation(self, slug: str) -> None:
        for live in self._live.values():
            if live.investigation and live.slug == slug:
                live.run.stop("cancel")

    # ================================================================ restart

    async def _restore_live_runs(self) -> None:
        """Adopt runs a previous engine left alive; settle the ones that ended meanwhile."""
        for job in list(self.state.jobs.values()):
            if job.current is not None:
                await self._restore_job(job)
            inv = job.investigation
            if inv is not None and inv.status is InvestigationStatus.RUNNING:
                await self._restore_investigation(self.state.jobs[job.slug])

    async def _restore_job(self, job: Job) -> None:
        current = job.current
        assert current is not None
        marker = run_marker(current.run_id, job.slug)
        ident = await asyncio.to_thread(_find_run_process, current.pid, current.pid_create_time, marker,
                                        current.started_at)
        log = Path(current.log_path)
        run = self._new_run(marker, log, log.with_name(f"{job.slug}.stderr.log"), current, False)
        if ident is not None:
            run.adopt(ident)
            if current.pid != ident.pid:
                self._put(q.update_run(job, pid=ident.pid, pid_create_time=ident.create_time))
            self.emit("job.adopted", slug=job.slug, runId=current.run_id, pid=ident.pid)
            if current.stopping is not None:
                run.stop(current.stopping)  # a cancel or watchdog the previous engine had begun
            self._supervise(_Live(job.slug, current.run_id, run, False))
            return
        if current.stopping is not None:
            run.stop_reason = current.stopping
        self._finish_job(job.slug, current.run_id, await run.settle())

    async def _restore_investigation(self, job: Job) -> None:
        inv = job.investigation
        assert inv is not None
        marker = run_marker(inv.failed_run_id, job.slug + INVESTIGATION_SUFFIX)
        ident = await asyncio.to_thread(_find_run_process, inv.pid, inv.pid_create_time, marker,
                                        inv.started_at or self.clock.now())
        log = Path(inv.log_path or self.home.run_dir(inv.failed_run_id) / f"{job.slug}{INVESTIGATION_SUFFIX}.jsonl")
        run = self._new_run(marker, log, log.with_name(f"{job.slug}{INVESTIGATION_SUFFIX}.stderr.log"), inv, True)
        if ident is not None:
            run.adopt(ident)
            self.emit("investigation.adopted", slug=job.slug, runId=inv.failed_run_id, pid=ident.pid)
            self._supervise(_Live(job.slug, inv.failed_run_id, run, True))
            return
        self._finish_investigation(job.slug, await run.settle())

    # ================================================================ the usage meter

    async def _poll_meter(self) -> None:
        assert self._meter is not None
        now = self.clock.now()
        result: PollResult = await self._meter.poll(now)
        step = after_poll(self.meter_health, result, self.config.usage.poll_seconds, now)
        self.meter_health = step.health
        self._next_poll_in = step.next_poll_in
        if result.kind == "ok" and result.usage is not None:
            self._set_usage(result.usage)
            self.emit(
                "usage.polled",
                fiveHour=result.usage.five_hour.utilization,
                sevenDay=result.usage.seven_day.utilization,
            )
            if self.state.paused is not None and gates.after_good_poll(self.state.paused) is None:
                self._clear_pause("usage meter answered")
        elif result.kind == "no_credentials":
            self._set_usage(UNKNOWN)
            self.emit("usage.failed", "warning", kind=result.kind, status=None, message=result.message)
        else:
            if self.usage.known:
                self._set_usage(replace(self.usage, stale=True))
            self.emit("usage.failed", "warning", kind=result.kind, status=result.status, message=result.message)
        if step.pause is not None:
            self._set_pause(step.pause)
        self.request_tick()

    async def _meter_step(self) -> None:
        try:
            await asyncio.wait_for(self._meter_wake.wait(), self._next_poll_in)
        except TimeoutError:
            pass
        self._meter_wake.clear()
        await self._poll_meter()

    # ================================================================ the clock

    async def _timer_step(self) -> None:
        await asyncio.sleep(TIMER_INTERVAL)
        now = self.clock.now()
        moment = asyncio.get_running_loop().time()
        paused = self.state.paused
        if paused is not None and gates.resume_due(paused, now):
            self.request_tick()
        if self._next_gate_check is not None and now >= self._next_gate_check:
            self._next_gate_check = None
            self.request_tick()
        self._watch_files()
        self._save_offsets()
        if moment - self._last["rescan"] >= RESCAN_INTERVAL:
            self._last["rescan"] = moment
            await self._rescan()
        if moment - self._last["heartbeat"] >= HEARTBEAT_INTERVAL:
            self._last["heartbeat"] = moment
            self._write_heartbeat()
        if moment - self._last["prune"] >= PRUNE_INTERVAL:
            self._last["prune"] = moment
            await self._prune_finished()

    def _watch_files(self) -> None:
        """config.yaml and the credentials file are polled: both are small and rarely change."""
        if _mtime(self.home.config) != self._config_mtime:
            self._load_config()
            self.request_tick()
        credentials = _mtime(credentials_path(self.environ))
        if credentials != self._credentials_mtime:
            self._credentials_mtime = credentials
            self._meter_wake.set()  # fixed credentials end an auth pause at once

    def _write_heartbeat(self) -> None:
        counts: dict[str, int] = {}
        for job in self.state.jobs.values():
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        decision = gates.decide(self._policy(), self.usage, self.state.paused, self.state.on_reset, self.clock.now())
        paused = self.state.paused
        self._heartbeat.write(
            {
                "ts": iso_ms(self.clock.now()),
                "counts": counts,
                "gate": "open" if isinstance(decision, gates.Open) else decision.reason,
                "paused": paused.reason.value if paused else None,
                "fiveHour": self.usage.five_hour.utilization,
                "sevenDay": self.usage.seven_day.utilization,
                "stale": self.usage.stale,
            }
        )

    async def _prune_finished(self) -> None:
        """Finished jobs older than keep_finished_days leave queue.json; their PRDs move to
        prds-archive/ so they are not queued again (moved, never deleted)."""
        cutoff = self.clock.now() - dt.timedelta(days=self.config.keep_finished_days)
        needed = {dep for job in self.state.jobs.values() if job.status not in q.TERMINAL for dep in job.depends_on}
        old = [
            job
            for job in self.state.jobs.values()
            if job.status in q.TERMINAL and not job.is_busy and job.slug not in needed and job.updated_at < cutoff
        ]
        for job in old:
            moved = await asyncio.to_thread(_archive_file, self.home, job.slug)
            self._drop(job.slug, f"finished more than {self.config.keep_finished_days} days ago")
            if moved:
                self._history({"event": "archived", "slug": job.slug, "to": str(moved)})

    # ================================================================ idle

    def has_live_runs(self) -> bool:
        return bool(self._live)

    def is_idle(self) -> bool:
        return is_idle(self.state.jobs)

    def needs_user(self) -> str | None:
        """Why the queue cannot move on without the user, or None."""
        paused = self.state.paused
        if paused is not None and paused.reason in (PauseReason.MANUAL, PauseReason.AUTH, PauseReason.STATE):
            return f"paused ({paused.reason.value}): {paused.message}"
        has_pending = any(job.status is Status.PENDING for job in self.state.jobs.values())
        if has_pending and self.config.fire_policy == "manual":
            return "fire policy is manual: only Force tick starts runs"
        if has_pending and not self.usage.known and self.config.usage.when_unknown == "hold":
            if self.meter_health.last is not None and self.meter_health.last.kind == "no_credentials":
                return "usage is unknown (no credentials) and usage.when_unknown is hold"
        return None

    # ================================================================ commands

    async def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """A control command (SPEC 9) from the socket, the CLI or the GUI."""
        cmd = request.get("cmd")
        slug = request.get("slug")
        try:
            if cmd == "status":
                return {"ok": True, **self.status()}
            if cmd == "pause":
                self._set_pause(gates.manual_pause(request.get("reason"), self.clock.now()))
            elif cmd == "resume":
                if self.state.paused is None:
                    raise CommandError("the queue is not paused")
                self._clear_pause("resumed by the user")
            elif cmd == "tick":
                self.request_tick(force=True)
            elif cmd in ("cancel", "skip", "reset", "rerun", "run"):
                self._job_command(cmd, self._job(slug))
            elif cmd == "archive":
                await self._archive(self._job(slug))
            elif cmd == "show":
                if self.on_show is None:
                    raise CommandError("this engine has no window (it was started with `overnight run`)")
                self.on_show()
            else:
                raise CommandError(f"unknown command {cmd!r}")
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    def _job(self, slug: Any) -> Job:
        if not isinstance(slug, str) or not slug:
            raise CommandError("this command needs a slug")
        job = self.state.jobs.get(slug.removesuffix(".md"))
        if job is None:
            raise CommandError(f"no job {slug!r} in the queue")
        return job

    def _job_command(self, cmd: str, job: Job) -> None:
        now = self.clock.now()
        try:
            if cmd == "cancel":
                if job.status is Status.RUNNING:
                    self._stop_run(job)
                    return
                self._put(q.cancel_pending(job, now))
            elif cmd == "skip":
                self._put(q.skip(job, now))
            elif cmd == "reset":
                fresh = replace(job, runs=0, last=None, investigation=None, fix_plan_slug=None, interrupted_retries=0)
                self._put(q.make_pending(fresh, "reset by the user", now))
            elif cmd == "rerun":
                if job.status not in q.TERMINAL:
                    raise CommandError(f"{job.slug} is {job.status.value}; only a finished job can be re-run")
                self._put(q.make_pending(job, "re-run requested", now))
            elif cmd == "run":
                self._run_now(job)
                return
        except q.IllegalTransition as exc:
            raise CommandError(f"{job.slug} is {job.status.value}: {cmd} does not apply") from exc
        self.emit(f"job.{cmd}", slug=job.slug)
        self.request_tick()

    async def _archive(self, job: Job) -> None:
        """Moves the PRD into prds-archive/ (never deletes it); the row leaves the queue."""
        if job.status is Status.RUNNING or job.is_busy:
            raise CommandError(f"{job.slug} is running; cancel it before archiving it")
        moved = await asyncio.to_thread(_archive_file, self.home, job.slug)
        self._drop(job.slug, "archived by the user")
        self._history({"event": "archived", "slug": job.slug, "to": str(moved) if moved else None})
        self.emit("prd.archived", slug=job.slug, to=str(moved) if moved else None)

    def _stop_run(self, job: Job) -> None:
        assert job.current is not None
        live = self._live.get(run_marker(job.current.run_id, job.slug))
        if live is not None:
            live.run.stop("cancel")
        # Before its process exists, the flag stops it from being started.
        self._put(q.update_run(job, stopping="cancel"))
        self.emit("job.cancelling", slug=job.slug)

    def _run_now(self, job: Job) -> None:
        """The user's explicit override for one job: no gate, no group order, no cap."""
        if job.status is not Status.PENDING or job.is_busy:
            raise CommandError(f"{job.slug} is {job.status.value}; only a pending job can run now")
        self._background(self._start_jobs([job.slug]), self._starts)

    def status(self) -> dict[str, Any]:
        now = self.clock.now()
        decision = gates.decide(self._policy(), self.usage, self.state.paused, self.state.on_reset, now)
        engine = self.state.engine
        running = sum(1 for job in self.state.jobs.values() if job.status is Status.RUNNING)
        return {
            "engine": {"pid": engine.pid, "startedAt": iso_ms(engine.started_at)} if engine else None,
            "paused": q.pause_to_json(self.state.paused),
            "usage": usage_to_json(self.usage),
            "gate": {"open": isinstance(decision, gates.Open),
                     "reason": None if isinstance(decision, gates.Open) else decision.reason},
            "firePolicy": self.config.fire_policy,
            "running": running,
            "cap": self.cap(),
            "problems": self.problems(),
            "jobs": [
                {**q.job_to_json(job), "waiting": waiting_reason(self.state.jobs, job)}
                for job in sorted(self.state.jobs.values(), key=lambda j: (j.group, j.slug))
            ],
        }


# ==================================================================== helpers (blocking I/O)


def usage_to_json(usage: Usage) -> dict[str, Any]:
    return {
        "fiveHour": usage.five_hour.utilization,
        "fiveHourResetsAt": _iso(usage.five_hour.resets_at),
        "sevenDay": usage.seven_day.utilization,
        "sevenDayResetsAt": _iso(usage.seven_day.resets_at),
        "stale": usage.stale,
        "polledAt": _iso(usage.polled_at),
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return iso_ms(moment) if moment else None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


Signature = tuple[int, int]  # size, mtime_ns


def _list_prds(folder: Path) -> dict[str, Signature]:
    listing = {}
    try:
        for entry in os.scandir(folder):
            if not is_ignored(entry.name) and entry.is_file():
                info = entry.stat()
                listing[entry.name] = (info.st_size, info.st_mtime_ns)
    except FileNotFoundError:
        pass
    return dict(sorted(listing.items()))


def _read_files(folder: Path, names: Iterable[str]) -> tuple[list[FileChange], dict[str, Signature]]:
    """Each file's bytes (cut after the PRD size limit: more is never needed) and its size
    and mtime as read, so a later rescan knows whether it moved since."""
    changes, seen = [], {}
    for name in names:
        try:
            with open(folder / name, "rb") as file:
                info = os.fstat(file.fileno())
                data: bytes | None = file.read(MAX_PRD_BYTES + 1)
            seen[name] = (info.st_size, info.st_mtime_ns)
        except (FileNotFoundError, IsADirectoryError):
            data = None
        changes.append(FileChange(name, data))
    return changes, seen


def _read_prompt(path: Path) -> bytes:
    """The PRD body is the prompt; the frontmatter is Overnight's, not the agent's."""
    return body_of(path.read_bytes()).encode()


def _make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _investigation_inputs(prd: Path, failed_log: Path) -> tuple[str, str]:
    try:
        body = body_of(prd.read_bytes())
    except OSError:
        body = "(the PRD file is gone from prds/)"
    try:
        with open(failed_log, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            tail = transcript_tail(file.read())
    except OSError:
        tail = ""
    return body, tail


def _find_run_process(
    pid: int | None, create_time: float | None, marker: str, started_at: dt.datetime
) -> ProcessId | None:
    """The run's root process if it is still alive: its saved pid (same create time, same
    marker), or, when the engine died before saving the pid, the marked group leader."""
    if pid is not None and create_time is not None:
        ident = ProcessId(pid, create_time)
        return ident if procs.is_our_run(ident, marker) else None
    for ident in procs.marked([marker], started_at.timestamp())[marker]:
        try:
            if os.getpgid(ident.pid) == ident.pid:
                return ident
        except OSError:
            continue
    return None


def _archive_file(home: Home, slug: str) -> Path | None:
    source = home.prds / f"{slug}.md"
    if not source.exists():
        return None
    target = home.archive / source.name
    counter = 1
    while target.exists():
        counter += 1
        target = home.archive / f"{slug}.{counter}.md"
    shutil.move(source, target)
    return target


def _launch_record(
    slug: str, run_id: str, launch: Launch, ident: ProcessId, started_at: dt.datetime
) -> dict[str, Any]:
    return {
        "slug": slug,
        "runId": run_id,
        "argv": launch.argv,
        "cwd": launch.cwd,
        "marker": launch.env.get(MARKER),
        "pid": ident.pid,
        "pidCreateTime": ident.create_time,
        "startedAt": iso_ms(started_at),
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
        "resetsAt": _iso(outcome.resets_at),
        "limitType": outcome.limit_type,
        "costUsd": result.total_cost_usd if result else None,
        "numTurns": result.num_turns if result else None,
        "durationMsReported": result.duration_ms if result else None,
        "skippedLines": end.summary.skipped,
        "leftoversKilled": [ident.pid for ident in end.killed_leftovers],
    }
