"""The engine: the single writer of the queue. Folder, process and meter events come in;
the core decides; the engine persists and acts; events go out to logs, the CLI and the GUI
(docs/ARCHITECTURE.md walks one PRD through it). Everything runs on one asyncio loop: state
changes happen between awaits, so two ticks can never pick the same job.

This module holds the state, its commits, the pauses and the tick loop; its parts do the
work: `prd_folder` (the PRDs), `runs` (every run's life), `commands` (what users ask),
`housekeeping` (the clock's duties and the usage meter).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config import Config, concurrency_env_problem, effective_concurrency_cap, gate_policy
from app.core import gate as gates
from app.core import queue as q
from app.core.batching import is_idle, pick_investigations, pick_next
from app.core.event_names import EventName
from app.core.finish import RunEndRules
from app.core.meter import MeterHealth
from app.core.queue import Job, Pause, PauseReason, QueueState
from app.core.times import iso_ms
from app.core.upkeep import has_work, needs_user
from app.core.usage import Usage
from app.engine import quarantine, store
from app.engine.commands import Commands
from app.engine.control import ControlServer
from app.engine.events import EngineEvent, FileLog
from app.engine.housekeeping import Housekeeping
from app.engine.lag import LagMonitor
from app.engine.prd_folder import PrdFolder
from app.engine.runs import Runs
from app.engine.snapshot import Snapshot
from app.engine.threads import call_soon
from app.paths import Home

STOP_FLUSH_TIMEOUT = 10.0  # a disk that does not answer must not keep the engine from stopping

Listener = Callable[[EngineEvent], None]
StateListener = Callable[[QueueState, list[str]], None]


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


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
        self.local_tz: dt.tzinfo = local_tz or dt.datetime.now().astimezone().tzinfo or dt.UTC
        self.state = QueueState()
        self.config = Config()
        self.config_problems: list[str] = []
        self.meter_health = MeterHealth()
        self.started_at: dt.datetime | None = None
        self.on_show: Callable[[], None] | None = None
        self.stopping = False
        self.writer: store.QueueWriter | None = None
        self.disk_trouble: Path | None = None  # the folder a write failed in, until a test write works
        self.next_gate_check: dt.datetime | None = None
        self.folder = PrdFolder(self)
        self.runs = Runs(self)
        self.commands = Commands(self)
        self.housekeeping = Housekeeping(self)
        self._notices: dict[str, str] = {}  # replaced whole on change: the GUI thread reads it
        self._listeners: list[Listener] = []
        self._state_listeners: list[StateListener] = []
        self._scheduling_wanted = asyncio.Event()
        self._force_next = False
        self._tasks: list[asyncio.Task[None]] = []  # the loops
        self.chores: set[asyncio.Task[None]] = set()  # folder reads, probes: cancelled at stop
        self._control: ControlServer | None = None
        self._file_log: FileLog | None = None
        self._lag = LagMonitor(lambda lag: self.emit(EventName.ENGINE_LAG, "warning", lagMs=round(lag * 1000)))
        self._gate: gates.Decision = gates.Open()  # the last scheduling pass's verdict

    # ------------------------------------------------------------ listeners

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def subscribe_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def emit(self, event: EventName, level: str = "info", **fields: Any) -> None:
        record = EngineEvent(event, self.clock.now(), fields, level)
        for listener in list(self._listeners):
            listener(record)

    # ------------------------------------------------------------ start and stop

    async def start(self) -> None:
        """Everything up to the first tick. The lock is the caller's (one engine per home).
        Raises only when the home itself cannot be made: whatever else is wrong in it is
        quarantined, reported, and the engine starts."""
        now = self.clock.now()
        self._tasks = [asyncio.create_task(self._lag.run(), name="lag")]  # the start itself is watched too
        quarantined = quarantine.prepare_home(self.home, now)
        loop = asyncio.get_running_loop()
        self._file_log = FileLog(self.home.log_file,
                                 on_error=lambda path, exc: call_soon(loop, self.write_failed, path, exc))
        self.subscribe(self._file_log)
        for item in quarantined:
            self.notice(f"quarantined:{item.path}", item.message())
            self.emit(EventName.HOME_QUARANTINED, "warning", path=str(item.path),
                      movedTo=str(item.moved_to) if item.moved_to else None, problem=item.problem)
        self.housekeeping.load_config()
        self.started_at = now
        loaded = await asyncio.to_thread(store.load, self.home, now)
        if loaded.warning:
            self.notice("queue", loaded.warning)
            self.emit(EventName.QUEUE_RESTORED, "warning", message=loaded.warning)
        self.writer = store.QueueWriter(self.home, self._writer_problem, loop)
        usage = replace(loaded.state.usage, stale=True) if loaded.state.usage.known else loaded.state.usage
        self.commit(replace(loaded.state, engine=q.EngineInfo(os.getpid(), now), usage=usage))
        self.emit(EventName.ENGINE_STARTED, pid=os.getpid(), home=str(self.home.root))
        paused = loaded.state.paused
        if paused is not None:
            self._announce_pause(paused)
            if paused.reason is PauseReason.DISK:
                self.disk_trouble = self.home.root  # a test write decides whether it is over
        await self.runs.restore()
        await self.folder.rescan(everything=True)
        await asyncio.sleep(0)  # a large folder's last slice and check were just done: let the loop breathe
        self.folder.watch()
        await self.housekeeping.start()
        self._tasks += [
            asyncio.create_task(self._keep_running(self.housekeeping.meter_step), name="meter"),
            asyncio.create_task(self._keep_running(self.housekeeping.timer_step), name="timer"),
            asyncio.create_task(self._keep_running(self._schedule_step), name="ticks"),
        ]
        self.request_tick()

    async def serve_control(self) -> None:
        """The control socket (engine.sock). Without it the engine still runs; the user is told."""
        server = ControlServer(self.home.socket, self.handle)
        try:
            await server.start()
        except OSError as exc:
            self.notice("socket", f"the control socket {self.home.socket} cannot be made ({exc.strerror or exc}); "
                                  "`overnight status` and the other commands cannot reach this engine")
            return
        self._control = server

    async def stop(self, *, stop_jobs: bool) -> None:
        """Leave running agents alive (they are adopted at the next start) or stop them."""
        self.stopping = True
        if self._control is not None:
            await self._control.close()
        self.folder.unwatch()
        for task in [*self._tasks, *self.chores]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self.chores, return_exceptions=True)
        await self.runs.stop(stop_jobs=stop_jobs)
        await self.housekeeping.close()
        if self.writer:
            self.commit(replace(self.state, engine=None))
            try:
                async with asyncio.timeout(STOP_FLUSH_TIMEOUT):
                    await self.writer.flush()
            except (store.WriteFailed, TimeoutError) as exc:
                why = exc if isinstance(exc, store.WriteFailed) else "the disk does not answer"
                self.emit(EventName.ENGINE_ERROR, "error", where="stop", error=f"the last change is not saved: {why}")
            self.writer.close(STOP_FLUSH_TIMEOUT)
        self.emit(EventName.ENGINE_STOPPED)
        if self._file_log:
            self._file_log.close()

    # ------------------------------------------------------------ state

    async def flush(self) -> None:
        """Wait until every state change so far is on disk."""
        assert self.writer is not None
        await self.writer.flush()

    def commit(self, state: QueueState) -> None:
        """The one way the state changes: saved (coalesced, off the loop), then told to listeners."""
        old = self.state
        self.state = state
        assert self.writer is not None
        self.writer.save(state)
        if state.jobs is old.jobs:
            changed = []
        else:
            changed = [slug for slug, job in state.jobs.items() if old.jobs.get(slug) is not job]
            changed += [slug for slug in old.jobs if slug not in state.jobs]
        for listener in list(self._state_listeners):
            listener(state, changed)

    def put(self, job: Job) -> None:
        jobs = dict(self.state.jobs)
        jobs[job.slug] = job
        self.commit(replace(self.state, jobs=jobs))

    def drop(self, slug: str, why: str) -> None:
        """The row leaves the queue (its file is gone, archived or pruned)."""
        job = self.state.jobs.get(slug)
        if job is None:
            return
        self.folder.forget(slug)
        jobs = dict(self.state.jobs)
        del jobs[slug]
        self.commit(replace(self.state, jobs=jobs))
        self.history({"event": "removed", "slug": slug, "status": job.status.value, "why": why})
        self.emit(EventName.PRD_REMOVED, slug=slug)

    def history(self, record: Mapping[str, Any]) -> None:
        assert self.writer is not None
        self.writer.append_history({"ts": iso_ms(self.clock.now()), **record})

    @property
    def usage(self) -> Usage:
        return self.state.usage

    def set_usage(self, usage: Usage) -> None:
        if usage != self.state.usage:
            self.commit(replace(self.state, usage=usage))

    def set_pause(self, pause: Pause) -> None:
        combined = gates.pause_with(self.state.paused, pause)
        if combined == self.state.paused:
            return
        self.commit(replace(self.state, paused=combined))
        self._announce_pause(combined)

    def _announce_pause(self, pause: Pause) -> None:
        self.emit(EventName.QUEUE_PAUSED, "warning", reason=pause.reason.value,
                  resumeAt=iso_ms(pause.resume_at) if pause.resume_at else None, message=pause.message)

    def clear_pause(self, why: str) -> None:
        if self.state.paused is None:
            return
        reason = self.state.paused.reason.value
        self.commit(replace(self.state, paused=None))
        self.emit(EventName.QUEUE_RESUMED, reason=why, was=reason)
        self.request_tick()

    def paused_for(self, reason: PauseReason) -> bool:
        return self.state.paused is not None and self.state.paused.reason is reason

    # ------------------------------------------------------------ the disk

    def _writer_problem(self, problem: store.WriteProblem | None) -> None:
        if problem is not None:
            self.write_failed(problem.path, problem.error)

    def write_failed(self, path: Path, error: OSError | str) -> None:
        """A write failed: nothing new starts until a test write works again. Running agents go on."""
        if self.disk_trouble is None:
            self.disk_trouble = path.parent
        if self.paused_for(PauseReason.DISK):
            return  # the first failure stands for all until writing works again
        text = error if isinstance(error, str) else (error.strerror or str(error))
        self.set_pause(gates.disk_pause(str(path), text, self.clock.now()))

    # ------------------------------------------------------------ config and problems

    def cap(self) -> int:
        return effective_concurrency_cap(self.config, self.environ)

    def policy(self) -> gates.GatePolicy:
        return gate_policy(self.config)

    def run_end_rules(self) -> RunEndRules:
        return RunEndRules(self.config.retry_interrupted, self.config.investigation.enabled,
                           self.config.usage.resume_margin, self.config.agent.resume)

    def settings_problems(self) -> list[str]:
        """What is wrong with config.yaml and the environment's settings."""
        env = concurrency_env_problem(self.environ)
        return [*self.config_problems, *([env] if env else [])]

    def problems(self) -> list[str]:
        """Everything the user should know about: the settings, the queue file, the home."""
        return [*self.settings_problems(), *self._notices.values()]

    def notice(self, key: str, message: str | None) -> None:
        """A problem in the home the user sees until it is gone (`message` None: it is gone)."""
        if self._notices.get(key) == message:
            return
        notices = dict(self._notices)
        if message is None:
            del notices[key]
        else:
            notices[key] = message
            self.emit(EventName.HOME_PROBLEM, "warning", key=key, message=message)
        self._notices = notices
        self.views_outdated()

    # ------------------------------------------------------------ scheduling

    def request_tick(self, force: bool = False) -> None:
        """Ask for a scheduling pass soon (`force`: past the gate, as the user's force tick)."""
        self._force_next |= force
        self._scheduling_wanted.set()

    def background(self, work: Coroutine[Any, Any, None], group: set[asyncio.Task[None]]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        group.add(task)
        task.add_done_callback(group.discard)
        return task

    async def _keep_running(self, step: Callable[[], Awaitable[None]]) -> None:
        """A background duty that must survive its own bugs: an engine that silently stops
        ticking is the worst failure an unattended queue can have."""
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in one pass must not end the loop
                self.emit(EventName.ENGINE_ERROR, "error", where=step.__name__, error=f"{type(exc).__name__}: {exc}",
                          trace=traceback.format_exc(limit=8))
                await asyncio.sleep(1)

    async def _schedule_step(self) -> None:
        await self._scheduling_wanted.wait()
        self._scheduling_wanted.clear()
        force, self._force_next = self._force_next, False
        await self._tick(force)

    async def _tick(self, force: bool = False) -> None:
        """One scheduling pass: the gate, then the jobs and investigations that may start."""
        now = self.clock.now()
        state = self.state
        if state.paused is not None and gates.resume_due(state.paused, now):
            self.clear_pause("reset time reached")
            state = self.state
        on_reset = gates.advance_on_reset(state.on_reset, self.policy(), self.usage, has_work(state.jobs), now)
        if on_reset != state.on_reset:
            self.commit(replace(self.state, on_reset=on_reset))
        if force:
            self.clear_pause("force tick")
        decision = gates.decide(self.policy(), self.usage, self.state.paused, on_reset, now, force=force)
        if not force and decision != self._gate:  # it may change with time alone (a reset passed)
            self._gate = decision
            self.views_outdated()
        if isinstance(decision, gates.Closed):
            self.next_gate_check = decision.until
            return
        held = self.runs.held_until
        if not force and held is not None and now < held:
            self.next_gate_check = held
            return
        self.next_gate_check = None
        jobs = pick_next(self.state.jobs, self.cap())
        investigations = pick_investigations(self.state.jobs, self.config.investigation.max_concurrent)
        if jobs or investigations:
            self.commit(replace(self.state, last_tick_at=now))
            # Shielded: a stop cancels the tick, but not a start it has begun.
            await asyncio.shield(self.runs.start_picked(jobs, investigations))

    def views_outdated(self) -> None:
        """What views show changed beside the state (settings, problems, the gate's verdict)."""
        for listener in list(self._state_listeners):
            listener(self.state, [])

    # ------------------------------------------------------------ for the CLI and the GUI

    def snapshot(self) -> Snapshot:
        """What a view may know, as of now (built on the engine's loop, read anywhere)."""
        state, settings = self.state, tuple(self.settings_problems())
        gate = gates.decide(self.policy(), state.usage, state.paused, state.on_reset, self.clock.now())
        return Snapshot(state, self.config, self.cap(), gate, (*settings, *self._notices.values()), settings)

    async def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """A control command (docs/BEHAVIOUR.md section 9) from the socket, the CLI or the GUI."""
        return await self.commands.handle(request)

    @property
    def worst_lag(self) -> float:
        """The longest the event loop was late, in seconds, since the engine started."""
        return self._lag.worst

    def is_idle(self) -> bool:
        return is_idle(self.state.jobs)

    def needs_user(self) -> str | None:
        """Why the queue cannot move on without the user, or None."""
        last_poll = self.meter_health.last
        return needs_user(self.state, self.config.fire_policy, self.config.usage.when_unknown,
                          last_poll.kind if last_poll is not None else None)
