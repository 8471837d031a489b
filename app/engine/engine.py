"""The engine: the single writer of the queue. Folder, process and meter events come in;
the core decides; the engine persists and acts; events go out to logs, the CLI and the GUI.

Everything here runs on one asyncio loop. State changes happen synchronously between
awaits, so two ticks can never pick the same job: a job is marked running (and that is
made durable) before its process is started.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
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
from app.core.batching import is_idle, is_runnable, pick_investigations, pick_next, waiting_reason
from app.core.investigation import (
    fix_plan_slug,
    investigation_prompt,
    should_investigate,
    transcript_tail,
)
from app.core.meter import MeterHealth, PollResult, after_poll
from app.core.prd import body_of, is_ignored, slug_of
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
from app.core.reconcile import (
    FileChange,
    Note,
    PrdDefaults,
    Touched,
    apply_changes,
    check_dependencies,
    link_fix_plan,
    needs_parse,
    parse_change,
)
from app.core.settle import settle
from app.core.stream import Event, ExitInfo, Outcome, RateLimit, Result, RunSummary, classify, rejection_reset
from app.core.usage import UNKNOWN, Usage
from app.engine import folder, procs, quarantine, store
from app.engine.control import ControlServer
from app.engine.events import EngineEvent, FileLog, Heartbeat, iso_ms
from app.engine.lag import LagMonitor
from app.engine.threads import call_soon, in_daemon_thread
from app.engine.procs import ProcessId
from app.engine.runner import AgentRun, Launch, Limits, RunEnd, SpawnError
from app.engine.usage import (
    VERSION_TIMEOUT,
    UsageMeter,
    VersionProbe,
    credentials_path,
    meter_url,
    user_agent,
)
from app.engine.watcher import FolderWatcher
from app.paths import Home, RunFiles, Signature, write_private_atomically

TIMER_INTERVAL = 0.5
RESCAN_INTERVAL = 30.0
FALLBACK_RESCAN_INTERVAL = 2.0  # when the folder cannot be watched
DISK_CHECK_INTERVAL = 5.0  # a test write while writing fails
START_RETRY = 10.0  # after a process could not be created for want of resources
RECONCILE_SLICE = 200  # file changes applied between two turns of the event loop
HEARTBEAT_INTERVAL = 60.0
PRUNE_INTERVAL = 3600.0
OFFSET_SAVE_INTERVAL = 5.0
FIRST_POLL_TIMEOUT = 12.0
STOP_FLUSH_TIMEOUT = 10.0  # a disk that does not answer must not keep the engine from stopping
# Errors of the disk itself (not of one missing folder): they pause the queue.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM})

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
        self._notices: dict[str, str] = {}  # replaced whole on change: the GUI thread reads it
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
        self._last = {"rescan": 0.0, "heartbeat": 0.0, "prune": -PRUNE_INTERVAL, "disk": 0.0}
        self._seen: dict[str, Signature] = {}  # size and mtime of each PRD when last read
        self._rescan_interval = RESCAN_INTERVAL
        self._control: ControlServer | None = None
        self._disk_trouble: Path | None = None  # the folder a write failed in, until a test write works
        self._lag = LagMonitor(lambda lag: self.emit("engine.lag", "warning", lagMs=round(lag * 1000)))
        self._start_hold_until: dt.datetime | None = None  # after a start failed for want of resources
        self._duty_errors: dict[str, tuple[str, float]] = {}

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
        """Everything up to the first tick. The lock is the caller's (one engine per home).
        Raises only when the home itself cannot be made: whatever else is wrong in it is
        quarantined, reported, and the engine starts."""
        now = self.clock.now()
        self._tasks = [asyncio.create_task(self._lag.run(), name="lag")]  # the start itself is watched too
        quarantined = quarantine.prepare_home(self.home, now)
        loop = asyncio.get_running_loop()
        self._file_log = FileLog(self.home.log_file,
                                 on_error=lambda path, exc: call_soon(loop, self._write_failed, path, exc))
        self.subscribe(self._file_log)
        for item in quarantined:
            self._notice(f"quarantined:{item.path}", item.message())
            self.emit("home.quarantined", "warning", path=str(item.path),
                      movedTo=str(item.moved_to) if item.moved_to else None, problem=item.problem)
        self._load_config()
        self.started_at = now
        loaded = await asyncio.to_thread(store.load, self.home, now)
        if loaded.warning:
            self._notice("queue", loaded.warning)
            self.emit("queue.restored", "warning", message=loaded.warning)
        self._writer = store.QueueWriter(self.home, self._writer_problem, asyncio.get_running_loop())
        usage = replace(loaded.state.usage, stale=True) if loaded.state.usage.known else loaded.state.usage
        self._commit(replace(loaded.state, engine=q.EngineInfo(os.getpid(), now), usage=usage))
        self.emit("engine.started", pid=os.getpid(), home=str(self.home.root))
        paused = loaded.state.paused
        if paused is not None:
            self.emit("queue.paused", "warning", reason=paused.reason.value,
                      resumeAt=_iso(paused.resume_at), message=paused.message)
            if paused.reason is PauseReason.DISK:
                self._disk_trouble = self.home.root  # a test write decides whether it is over
        await self._restore_live_runs()
        await self._rescan(everything=True)
        await asyncio.sleep(0)  # a large folder's last slice and check were just done: let the loop breathe
        self._watch_folder()
        self._credentials_mtime = _mtime(credentials_path(self.environ))
        moment = asyncio.get_running_loop().time()
        self._last.update(rescan=moment, heartbeat=moment - HEARTBEAT_INTERVAL, disk=moment)
        # Off the loop: an HTTP client reads the system's certificates as it is made.
        self._meter = await asyncio.to_thread(UsageMeter, meter_url(self.config.usage.url, self.environ),
                                              user_agent(None), self.environ)
        # The meter's User-Agent names the CLI's version; asking the CLI never holds up the start.
        self._background(self._probe_cli_version(), self._chores)
        # A full meter must hold the queue from the first second: poll before anything starts.
        try:
            await asyncio.wait_for(self._poll_meter(), FIRST_POLL_TIMEOUT)
        except TimeoutError:
            self.emit("usage.failed", "warning", kind="transient", status=None)
        self._tasks += [
            asyncio.create_task(self._keep_running(self._meter_step), name="meter"),
            asyncio.create_task(self._keep_running(self._timer_step), name="timer"),
            asyncio.create_task(self._keep_running(self._tick_step), name="ticks"),
        ]
        self.request_tick()

    async def serve_control(self) -> None:
        """The control socket (engine.sock). Without it the engine still runs; the user is told."""
        server = ControlServer(self.home.socket, self.handle)
        try:
            await server.start()
        except OSError as exc:
            self._notice("socket", f"the control socket {self.home.socket} cannot be made ({exc.strerror or exc}); "
                                   "`overnight status` and the other commands cannot reach this engine")
            return
        self._control = server

    def _watch_folder(self) -> None:
        watcher = FolderWatcher(self.home.prds, self._file_ready)
        try:
            watcher.start()
        except OSError as exc:  # e.g. the system's inotify limit
            self._notice("watcher", f"{self.home.prds} cannot be watched ({exc.strerror or exc}); new PRDs are "
                                    f"picked up every {FALLBACK_RESCAN_INTERVAL:g} s instead of at once")
            self._rescan_interval = FALLBACK_RESCAN_INTERVAL
            return
        self._watcher = watcher

    async def _probe_cli_version(self) -> None:
        probe = VersionProbe(self._agent_command(), self.environ)
        try:
            version = await in_daemon_thread(probe.run, VERSION_TIMEOUT + 2, name="cli-version")
        except TimeoutError:
            version = None
        finally:
            if not probe.finished:  # the engine is stopping, or the probe is stuck: end it now
                probe.end()
        if self._meter is not None and version is not None:
            self._meter.user_agent = user_agent(version)

    async def stop(self, *, stop_jobs: bool) -> None:
        """Leave running agents alive (they are adopted at the next start) or stop them."""
        self._stopping = True
        if self._control is not None:
            await self._control.close()
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
        if self._meter:
            await self._meter.aclose()
        if self._writer:
            self._commit(replace(self.state, engine=None))
            try:
                await asyncio.wait_for(self._writer.flush(), STOP_FLUSH_TIMEOUT)
            except (store.WriteFailed, TimeoutError) as exc:
                why = exc if isinstance(exc, store.WriteFailed) else "the disk does not answer"
                self.emit("engine.error", "error", where="stop", error=f"the queue's last state is not on disk: {why}")
            self._writer.close(STOP_FLUSH_TIMEOUT)
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

    # ================================================================ the disk

    def _writer_problem(self, problem: store.WriteProblem | None) -> None:
        if problem is not None:
            self._write_failed(problem.path, problem.error)

    def _write_failed(self, path: Path, error: OSError | str) -> None:
        """A write failed: nothing new starts until a test write works again. Running agents go on."""
        if self._disk_trouble is None:
            self._disk_trouble = path.parent
        paused = self.state.paused
        if paused is not None and paused.reason is PauseReason.DISK:
            return  # the first failure stands for all until writing works again
        text = error if isinstance(error, str) else (error.strerror or str(error))
        self._set_pause(gates.disk_pause(str(path), text, self.clock.now()))

    async def _check_disk(self) -> None:
        """While writing fails: a test write where it failed, then what the writer still holds."""
        folder = self._disk_trouble
        if folder is None or not self._due("disk", DISK_CHECK_INTERVAL):
            return
        assert self._writer is not None
        try:
            await in_daemon_thread(lambda: _test_write(folder), DISK_CHECK_INTERVAL, name="test-write")
            self._writer.retry()
            await asyncio.wait_for(self._writer.flush(), DISK_CHECK_INTERVAL)
        except (OSError, TimeoutError):
            return
        self._disk_trouble = None
        if self.state.paused is not None and self.state.paused.reason is PauseReason.DISK:
            self._clear_pause("writing works again")

    # ================================================================ config

    def _load_config(self) -> None:
        # The file's time is taken first: a file that changes while it is read is read again.
        self._config_mtime = _mtime(self.home.config)
        loaded: ConfigLoad = load_config(self.home.config, self.config if self.started_at else None)
        previous = self.config
        self.config = loaded.config
        self.config_problems = [error.message() for error in loaded.errors]
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

    def settings_problems(self) -> list[str]:
        """What is wrong with config.yaml and the environment's settings."""
        env = concurrency_env_problem(self.environ)
        return [*self.config_problems, *([env] if env else [])]

    def problems(self) -> list[str]:
        """Everything the user should know about: the settings, the queue file, the home."""
        return [*self.settings_problems(), *self._notices.values()]

    def _notice(self, key: str, message: str | None) -> None:
        """A problem in the home the user sees until it is gone (`message` None: it is gone)."""
        if self._notices.get(key) == message:
            return
        notices = dict(self._notices)
        if message is None:
            del notices[key]
        else:
            notices[key] = message
            self.emit("home.problem", "warning", key=key, message=message)
        self._notices = notices

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
                await self._reconcile(await self._read(sorted(names)))
        finally:
            self._reading = False

    async def _read(
        self, names: Iterable[str], reparse: bool = False, listing: Mapping[str, Signature | None] | None = None
    ) -> list[FileChange]:
        """The files read and, where reconcile will need it, parsed: both off the loop."""
        jobs, defaults = self.state.jobs, self._defaults()

        def prepare(change: FileChange) -> FileChange:
            if needs_parse(jobs.get(slug_of(change.name)), change.content_hash, reparse):
                return replace(change, parsed=parse_change(change, defaults))
            return change

        reads = await folder.read_prds(self.home.prds, list(names), prepare)
        for read in reads:
            name = read.change.name
            seen = read.signature or (listing or {}).get(name)
            if seen is None:
                self._seen.pop(name, None)
            else:
                self._seen[name] = seen
        return [read.change for read in reads]

    async def _rescan(self, everything: bool = False, reparse: bool = False) -> None:
        """The whole folder against the queue: at start (every file is read: its content, not its
        mtime, says whether it changed), every RESCAN_INTERVAL as a safety net for missed folder
        events (files whose size or mtime moved), and after a change of the defaults."""
        try:
            listing = await in_daemon_thread(lambda: folder.list_prds(self.home.prds), folder.READ_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            # Nothing may be taken as gone from a folder that cannot be listed.
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it does not answer"
            self._notice("prds", f"{self.home.prds} cannot be listed ({why}); the queue keeps what it knew")
            return
        self._notice("prds", None)
        known = {f"{slug}.md" for slug in self.state.jobs}
        if everything or reparse:
            names = list(listing)
        else:
            names = [name for name, signature in listing.items() if self._seen.get(name) != signature]
        changes = await self._read(names, reparse, listing)
        gone = (known | set(self._seen)) - set(listing)
        for name in gone:
            self._seen.pop(name, None)
        changes += [FileChange(name, None) for name in sorted(gone & known)]
        await self._reconcile(changes, reparse=reparse)

    async def _reconcile(self, changes: list[FileChange], reparse: bool = False) -> None:
        """A batch of file changes, a slice at a time so the loop never stalls on a large
        folder; the dependency check closes the batch."""
        touched = Touched()
        for index in range(0, len(changes), RECONCILE_SLICE):
            self._apply_slice(changes[index : index + RECONCILE_SLICE], touched, reparse)
            await asyncio.sleep(0)
        self._close_batch(touched)

    def _reconcile_now(self, changes: list[FileChange]) -> None:
        """A few file changes, at once."""
        touched = Touched()
        self._apply_slice(changes, touched, reparse=False)
        self._close_batch(touched)

    def _apply_slice(self, changes: list[FileChange], touched: Touched, reparse: bool) -> None:
        try:
            self._apply_changes(changes, touched, reparse)
        except Exception:  # noqa: BLE001 - a bug met by one file must not lose its neighbours
            for change in changes:
                try:
                    self._apply_changes([change], touched, reparse)
                except Exception as exc:  # noqa: BLE001
                    self._seen.pop(change.name, None)  # read again at the next rescan
                    self.emit("engine.error", "error", where="reconcile", file=change.name,
                              error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=8))

    def _apply_changes(self, changes: list[FileChange], touched: Touched, reparse: bool) -> None:
        new_state, notes = apply_changes(self.state, changes, self._defaults(), self.clock.now(), touched,
                                         reparse=reparse)
        self._take(new_state, notes)

    def _close_batch(self, touched: Touched) -> None:
        self._take(*check_dependencies(self.state, touched, self.clock.now()))
        self.request_tick()

    def _take(self, new_state: QueueState, notes: list[Note]) -> None:
        if new_state is not self.state:
            self._commit(new_state)
        self._announce(notes)
        self._follow_notes(notes)

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
        if not force and self._start_hold_until is not None and now < self._start_hold_until:
            self._next_gate_check = self._start_hold_until
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
        """Each run's folder and files first, then the run recorded and made durable, then its
        process: a crash at any point leaves either a pending job or a run on disk whose
        record points at real files. A start that cannot be made durable never began."""
        if not slugs:
            return
        now = self.clock.now()
        starts = []
        jobs = dict(self.state.jobs)
        for slug in slugs:
            job = jobs.get(slug)
            if job is None or not is_runnable(jobs, job):
                continue  # changed since it was picked
            run_id = new_run_id(now)
            files = self.home.run_files(run_id, slug)
            try:
                files.create()
            except OSError as exc:
                self._write_failed(files.folder, exc)
                break
            current = CurrentRun(run_id=run_id, started_at=now, log_path=str(files.log),
                                 content_hash=job.content_hash)
            jobs[slug] = q.start(job, current, now)
            starts.append(jobs[slug])
        if not starts:
            return
        self._commit(replace(self.state, jobs=jobs))
        assert self._writer is not None
        try:
            await self._writer.flush()
        except store.WriteFailed as exc:
            for job in starts:
                self._unstart(job, f"not started: {exc}")
            return
        for job in starts:
            await self._spawn_job(job)

    def _unstart(self, job: Job, reason: str) -> None:
        """A start that did not happen: the job waits again and its slot is free."""
        latest = self.state.jobs.get(job.slug)
        if latest is None or latest.current is None or job.current is None or latest.current.run_id != job.current.run_id:
            return
        self._put(q.unstart(latest, reason, self.clock.now()))
        self.emit("job.not_started", "warning", slug=job.slug, runId=job.current.run_id, reason=reason)
        self.request_tick()

    async def _spawn_job(self, job: Job) -> None:
        assert job.current is not None
        current = job.current
        files = self.home.run_files(current.run_id, job.slug)
        marker = run_marker(current.run_id, job.slug)
        read = await self._read_prd(job.slug)
        if read.data is None:
            self._unstart(job, "not started: its PRD could not be read")
            self._reconcile_now([read])  # gone, or unreadable: the row says so
            return
        latest = self.state.jobs.get(job.slug)
        if latest is None or latest.current is None or latest.current.run_id != current.run_id:
            return
        if latest.current.stopping == "cancel":
            self._finish_job(job.slug, current.run_id, RunEnd(ExitInfo(None, cancelled=True), RunSummary(), 0, "cancel"))
            return
        if latest.current.content_hash != read.content_hash:
            # Edited since it was picked: the run is of the PRD it reads now, and its record says so.
            self._put(q.update_run(latest, content_hash=read.content_hash))
        run = self._new_run(marker, files.log, files.stderr, current, False)
        launch = Launch(
            argv=agent_argv(self._agent_command(), job.model or self.config.agent.model, self.config.agent.extra_args),
            env=agent_env(self.environ, self.config.agent.env_remove, marker),
            cwd=job.cwd,
            prompt=body_of(read.data).encode(),
        )
        ident = await self._spawn(run, launch, files, lambda why: self._spawn_failed(job, why),
                                  lambda why: self._unstart(job, why))
        if ident is None:
            return
        live = self.state.jobs.get(job.slug)
        if live is not None and live.current is not None and live.current.run_id == current.run_id:
            self._put(q.update_run(live, pid=ident.pid, pid_create_time=ident.create_time))
        self._write_meta(files.meta, _launch_record(job.slug, current.run_id, launch, ident, current.started_at))
        self.emit("job.started", slug=job.slug, runId=current.run_id, pid=ident.pid, group=job.group)
        self._supervise(_Live(job.slug, current.run_id, run, False))

    async def _spawn(
        self, run: AgentRun, launch: Launch, files: RunFiles, failed: Callable[[str], None],
        not_started: Callable[[str], None],
    ) -> ProcessId | None:
        """The run's process, or None: `failed` hears what only the user can fix (no binary, no
        cwd), `not_started` what may pass (no memory or processes for now, a disk that is full)."""
        try:
            return await run.spawn(launch)
        except SpawnError as exc:
            if exc.lasting:
                failed(str(exc))
            else:
                self._hold_starts()
                not_started(f"not started: {exc}; trying again shortly")
        except OSError as exc:
            self._write_failed(files.folder, exc)
            not_started(f"not started: cannot write its files ({exc.strerror or exc})")
        return None

    async def _read_prd(self, slug: str) -> FileChange:
        """The PRD as it is now (the prompt is its body), read like every PRD: never stuck."""
        return (await folder.read_prds(self.home.prds, [f"{slug}.md"]))[0].change

    def _hold_starts(self) -> None:
        """The machine could not create a process: wait a little rather than fail at once again."""
        self._start_hold_until = self.clock.now() + dt.timedelta(seconds=START_RETRY)

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
                resets = rejection_reset(event, self.clock.now())
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
        self._write_meta(self._meta_path(run_id, slug), _outcome_record(outcome, end, now))
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

    def _meta_path(self, run_id: str, slug: str, investigation: bool = False) -> Path | None:
        try:
            return self.home.run_files(run_id, slug, investigation).meta
        except ValueError:  # a record from a damaged queue.json: nowhere to write
            return None

    def _write_meta(self, path: Path | None, record: Mapping[str, Any]) -> None:
        """What Overnight decided about a run, beside its transcript (merged into what is there)."""
        if path is None:
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
            self.emit("meta.failed", "warning", path=str(path), error=str(exc))
            if exc.errno in DISK_ERRNOS:
                self._write_failed(path, exc)

    # ================================================================ investigations

    async def _start_investigation(self, slug: str) -> None:
        job = self.state.jobs.get(slug)
        if job is None or job.investigation is None or job.last is None:
            return
        inv = job.investigation
        if inv.status is not InvestigationStatus.WAITING:
            return  # changed since it was picked
        now = self.clock.now()
        files = self.home.run_files(inv.failed_run_id, slug, investigation=True)
        try:
            files.create()
        except OSError as exc:
            self._write_failed(files.folder, exc)
            return
        started = replace(inv, status=InvestigationStatus.RUNNING, run_id=inv.failed_run_id, started_at=now,
                          log_path=str(files.log))
        self._put(replace(job, investigation=started))
        assert self._writer is not None
        try:
            await self._writer.flush()
        except store.WriteFailed as exc:
            self._investigation_waits(slug, f"not started: {exc}")
            return
        failed_log = self.home.run_files(inv.failed_run_id, slug).log
        prd = await self._read_prd(slug)
        body = body_of(prd.data) if prd.data is not None else "(the PRD file cannot be read from prds/)"
        tail = await asyncio.to_thread(_transcript_tail_of, failed_log)
        fix_path = self.home.prds / f"{inv.fix_plan_slug}.md"
        prompt = investigation_prompt(
            job=job, reason=job.last.reason, body=body, transcript=tail, log_path=str(failed_log),
            fix_path=str(fix_path),
        )
        marker = run_marker(inv.failed_run_id, files.name)
        run = self._new_run(marker, files.log, files.stderr, started, True)
        launch = Launch(
            argv=agent_argv(self._agent_command(), self.config.investigation.model, self.config.agent.extra_args),
            env=agent_env(self.environ, self.config.agent.env_remove, marker),
            cwd=job.cwd,
            prompt=prompt.encode(),
        )
        ident = await self._spawn(
            run, launch, files,
            lambda why: self._end_investigation(slug, InvestigationStatus.NO_FIX_PLAN, f"could not start: {why}"),
            lambda why: self._investigation_waits(slug, why),
        )
        if ident is None:
            return
        current = self.state.jobs.get(slug)
        if current is not None and current.investigation is not None:
            self._put(replace(current, investigation=replace(current.investigation, pid=ident.pid,
                                                              pid_create_time=ident.create_time)))
        self._write_meta(files.meta, _launch_record(slug, inv.failed_run_id, launch, ident, now))
        self.emit("investigation.started", slug=slug, runId=inv.failed_run_id, pid=ident.pid,
                  fixPlan=inv.fix_plan_slug)
        self._supervise(_Live(slug, inv.failed_run_id, run, True))

    def _investigation_waits(self, slug: str, why: str) -> None:
        """The investigation did not run (or not to its end, through no fault of its own): it
        waits for its turn again."""
        job = self.state.jobs.get(slug)
        if job is None or job.investigation is None:
            return
        inv = replace(job.investigation, status=InvestigationStatus.WAITING, pid=None, reason=why)
        self._put(replace(job, investigation=inv))

    def _finish_investigation(self, slug: str, end: RunEnd) -> None:
        job = self.state.jobs.get(slug)
        if job is None or job.investigation is None:
            return
        inv = job.investigation
        now = self.clock.now()
        outcome = classify(end.summary, end.exit, now, self.local_tz)
        fix_path = self.home.prds / f"{inv.fix_plan_slug}.md"
        self._write_meta(self._meta_path(inv.failed_run_id, slug, investigation=True), _outcome_record(outcome, end, now))
        if not fix_path.exists() and (outcome.kind == "rate_limited" or end.stop_reason == "shutdown"):
            why = f"usage limit: {outcome.reason}" if outcome.kind == "rate_limited" else "stopped when Overnight quit"
            self._investigation_waits(slug, why)
            if outcome.kind == "rate_limited":
                self._rate_limited(outcome, now)
            return
        if fix_path.exists():
            # Reconcile it now rather than wait for the watcher, so the link is made at once.
            self._reconcile_now([folder.read_one(self.home.prds, fix_path.name).change])
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
        """Adopt runs a previous engine left alive; settle the ones that ended meanwhile. A run
        record that cannot be used (it points nowhere) is settled as cut short, alone."""
        for slug in list(self.state.jobs):
            job = self.state.jobs[slug]
            if job.current is not None:
                try:
                    await self._restore_job(job)
                except Exception as exc:  # noqa: BLE001 - one unusable record must not stop the start
                    self._abandon_run(slug, exc)
            job = self.state.jobs.get(slug)
            inv = job.investigation if job else None
            if job is not None and inv is not None and inv.status is InvestigationStatus.RUNNING:
                try:
                    await self._restore_investigation(job)
                except Exception as exc:  # noqa: BLE001
                    self._investigation_waits(slug, f"its run record could not be used ({type(exc).__name__}: {exc})")
                    self.emit("run.quarantined", "warning", slug=slug, investigation=True,
                              error=f"{type(exc).__name__}: {exc}")

    def _abandon_run(self, slug: str, exc: Exception) -> None:
        """A run record that cannot be restored: the job is settled as if its run was cut short."""
        job = self.state.jobs[slug]
        assert job.current is not None
        self.emit("run.quarantined", "warning", slug=slug, runId=job.current.run_id,
                  error=f"{type(exc).__name__}: {exc}")
        self._finish_job(slug, job.current.run_id, RunEnd(ExitInfo(None), RunSummary(), 0))

    async def _restore_job(self, job: Job) -> None:
        current = job.current
        assert current is not None
        files = self.home.run_files(current.run_id, job.slug)
        marker = run_marker(current.run_id, job.slug)
        ident = await asyncio.to_thread(_find_run_process, current.pid, current.pid_create_time, marker,
                                        current.started_at)
        run = self._new_run(marker, files.log, files.stderr, current, False)
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
        files = self.home.run_files(inv.failed_run_id, job.slug, investigation=True)
        marker = run_marker(inv.failed_run_id, files.name)
        ident = await asyncio.to_thread(_find_run_process, inv.pid, inv.pid_create_time, marker,
                                        inv.started_at or self.clock.now())
        run = self._new_run(marker, files.log, files.stderr, inv, True)
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
        """The clock's duties, each on its own: one that fails (a bad file, a full disk) is
        reported and the others go on."""
        await asyncio.sleep(TIMER_INTERVAL)
        duties: list[Callable[[], Awaitable[None] | None]] = [
            self._check_gate_times,
            self._watch_files,
            self._save_offsets,
            self._check_disk,
            self._periodic_rescan,
            self._write_heartbeat,
            self._prune_finished,
        ]
        for duty in duties:
            try:
                pending = duty()
                if pending is not None:
                    await pending
            except Exception as exc:  # noqa: BLE001 - one duty's failure must not stop the others
                self._duty_failed(duty.__name__, exc)

    def _duty_failed(self, duty: str, exc: Exception) -> None:
        """engine.error once per distinct failure a minute, not every half second."""
        error = f"{type(exc).__name__}: {exc}"
        moment = asyncio.get_running_loop().time()
        last = self._duty_errors.get(duty)
        if last is not None and last[0] == error and moment - last[1] < 60:
            return
        self._duty_errors[duty] = (error, moment)
        self.emit("engine.error", "error", where=duty, error=error, trace=traceback.format_exc(limit=8))

    def _due(self, duty: str, interval: float) -> bool:
        moment = asyncio.get_running_loop().time()
        if moment - self._last[duty] < interval:
            return False
        self._last[duty] = moment
        return True

    def _check_gate_times(self) -> None:
        now = self.clock.now()
        paused = self.state.paused
        if paused is not None and gates.resume_due(paused, now):
            self.request_tick()
        if self._next_gate_check is not None and now >= self._next_gate_check:
            self._next_gate_check = None
            self.request_tick()

    async def _periodic_rescan(self) -> None:
        if self._due("rescan", self._rescan_interval):
            await self._rescan()

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
        if not self._due("heartbeat", HEARTBEAT_INTERVAL):
            return
        counts: dict[str, int] = {}
        for job in self.state.jobs.values():
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        decision = gates.decide(self._policy(), self.usage, self.state.paused, self.state.on_reset, self.clock.now())
        paused = self.state.paused
        record = {
            "ts": iso_ms(self.clock.now()),
            "counts": counts,
            "gate": "open" if isinstance(decision, gates.Open) else decision.reason,
            "paused": paused.reason.value if paused else None,
            "fiveHour": self.usage.five_hour.utilization,
            "sevenDay": self.usage.seven_day.utilization,
            "stale": self.usage.stale,
        }
        try:
            self._heartbeat.write(record)
        except OSError as exc:
            self._write_failed(self.home.heartbeat, exc)

    async def _prune_finished(self) -> None:
        """Finished jobs older than keep_finished_days leave queue.json; their PRDs move to
        prds-archive/ so they are not queued again (moved, never deleted)."""
        if not self._due("prune", PRUNE_INTERVAL):
            return
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

    @property
    def worst_lag(self) -> float:
        """The longest the event loop was late, in seconds, since the engine started."""
        return self._lag.worst

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
                reason = request.get("reason")
                if reason is not None and not isinstance(reason, str):
                    raise CommandError("reason must be text")
                self._set_pause(gates.manual_pause(reason, self.clock.now()))
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
            shown = slug if len(slug) <= 140 else slug[:139] + "…"
            raise CommandError(f"no job {shown!r} in the queue")
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


def _test_write(folder: Path) -> None:
    probe = folder / ".overnight-write-test"
    write_private_atomically(probe, b"overnight\n")
    probe.unlink()


def _transcript_tail_of(log: Path) -> str:
    try:
        with open(log, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            return transcript_tail(file.read())
    except OSError:
        return ""


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
