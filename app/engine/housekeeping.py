"""What the engine does as time passes: the usage meter's polls, and the clock's duties
(gate times, config and credentials changes, the agent command's presence, saved reading
positions, the disk check, the safety-net rescan, the heartbeat, pruning). Each duty runs on its
own: one that fails (a bad file, a full disk) is reported and the others go on
(docs/BEHAVIOUR.md sections 6 and 9)."""

from __future__ import annotations

import asyncio
import datetime as dt
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import ConfigLoad, load_config
from app.core import gate as gates
from app.core.event_names import EventName
from app.core.meter import PollResult, after_poll
from app.core.queue import PauseReason
from app.core.times import iso_ms
from app.core.upkeep import to_prune
from app.core.usage import UNKNOWN
from app.engine import folder
from app.engine.events import Heartbeat
from app.engine.notify import Notifier
from app.engine.reports import DrainReports
from app.engine.runner import find_agent
from app.engine.spend import Spend
from app.engine.threads import in_daemon_thread
from app.engine.usage import VERSION_TIMEOUT, UsageMeter, VersionProbe, credentials_path, meter_url, user_agent
from app.paths import write_private_atomically

if TYPE_CHECKING:
    from app.engine.engine import Engine

TIMER_INTERVAL = 0.5
DISK_CHECK_INTERVAL = 5.0  # a test write while writing fails
HEARTBEAT_INTERVAL = 60.0
PRUNE_INTERVAL = 3600.0
FIRST_POLL_TIMEOUT = 12.0
AGENT_CHECK_INTERVAL = 3.0  # is the agent command there? (a setup pause ends by itself once it is)
AGENT_CHECK_TIMEOUT = 60.0  # a PATH entry on a dead network mount: that look is given up
FIRST_AGENT_CHECK_TIMEOUT = 5.0
DUTY_ERROR_REPEAT = 60.0  # seconds before the same failure of a duty is reported again


class Housekeeping:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._meter: UsageMeter | None = None
        self._meter_wake = asyncio.Event()
        self._next_poll_in = engine.config.usage.poll_seconds
        self._heartbeat = Heartbeat(engine.home.heartbeat)
        self._reports = DrainReports(engine)
        self._config_mtime: float | None = None
        self._credentials_mtime: float | None = None
        self._last = {"rescan": 0.0, "heartbeat": 0.0, "prune": -PRUNE_INTERVAL, "disk": 0.0, "agent": 0.0}
        self._agent_check: asyncio.Task[None] | None = None  # one look for the agent at a time
        self._duty_errors: dict[str, tuple[str, float]] = {}
        self.notifier = Notifier(engine)
        self.spend = Spend(engine)  # the spend guard: it hears every run's init event

    async def start(self) -> None:
        """The meter made and polled once: a full meter must hold the queue from the first second."""
        engine = self._engine
        engine.subscribe(self.notifier.hear)
        engine.background(self.notifier.run(), engine.chores)  # a stop cancels it, even mid-send
        self._credentials_mtime = _mtime(credentials_path(engine.environ))
        await self.spend.load()  # the day's API spend may hold the queue from the first second
        moment = asyncio.get_running_loop().time()
        self._last.update(rescan=moment, heartbeat=moment - HEARTBEAT_INTERVAL, disk=moment, agent=moment)
        # Before anything starts: a missing agent pauses the queue rather than failing its first job.
        self._agent_check = engine.background(self._check_agent(), engine.chores)
        await asyncio.wait({self._agent_check}, timeout=FIRST_AGENT_CHECK_TIMEOUT)
        # Off the loop: an HTTP client reads the system's certificates as it is made.
        self._meter = await asyncio.to_thread(UsageMeter, meter_url(engine.config.usage.url, engine.environ),
                                              user_agent(None), engine.environ)
        # The meter's User-Agent names the CLI's version; asking the CLI never holds up the start.
        engine.background(self._probe_cli_version(), engine.chores)
        try:
            async with asyncio.timeout(FIRST_POLL_TIMEOUT):
                await self._poll_meter()
        except TimeoutError:
            engine.emit(EventName.USAGE_FAILED, "warning", kind="transient", status=None)

    async def final_report(self) -> None:
        """The drained queue's report written before the engine stops (`run --until-idle`)."""
        await self._reports.settle()

    async def close(self) -> None:
        if self._meter:
            await self._meter.aclose()

    def load_config(self) -> None:
        """config.yaml (re)read; a bad one keeps the settings in force and says why."""
        engine = self._engine
        self._config_mtime = _mtime(engine.home.config)  # first: a file that changes while read is read again
        loaded: ConfigLoad = load_config(engine.home.config, engine.config if engine.started_at else None)
        previous = engine.config
        engine.config = loaded.config
        engine.config_problems = [error.message() for error in loaded.errors]
        if not loaded.ok:
            engine.emit(EventName.CONFIG_INVALID, "error", message=loaded.summary())
        elif previous != engine.config and engine.writer is not None:
            engine.emit(EventName.CONFIG_LOADED)
        config = engine.config
        if engine.writer is not None and (
            previous.default_cwd != config.default_cwd or previous.agent.model != config.agent.model
            or previous.workspace.mode != config.workspace.mode
        ):
            # PRDs without their own cwd/model/workspace follow the new defaults.
            engine.background(engine.folder.rescan(reparse=True), engine.chores)
        if engine.writer is not None:
            self.spend.review()  # a spend pause may no longer hold, or a lower daily limit be reached
            engine.views_outdated()

    # ------------------------------------------------------------ the usage meter

    async def _probe_cli_version(self) -> None:
        probe = VersionProbe(self._engine.config.agent.command, self._engine.environ)
        try:
            version = await in_daemon_thread(probe.run, VERSION_TIMEOUT + 2, name="cli-version")
        except TimeoutError:
            version = None
        finally:
            if not probe.finished:  # the engine is stopping, or the probe is stuck: end it now
                probe.end()
        if self._meter is not None and version is not None:
            self._meter.user_agent = user_agent(version)

    async def meter_step(self) -> None:
        try:
            async with asyncio.timeout(self._next_poll_in):  # a cancel is never lost (wait_for may lose it)
                await self._meter_wake.wait()
        except TimeoutError:
            pass
        self._meter_wake.clear()
        await self._poll_meter()

    async def _poll_meter(self) -> None:
        assert self._meter is not None
        engine = self._engine
        now = engine.clock.now()
        result: PollResult = await self._meter.poll(now)
        step = after_poll(engine.meter_health, result, engine.config.usage.poll_seconds, now)
        engine.meter_health = step.health
        self._next_poll_in = step.next_poll_in
        if result.kind == "ok" and result.usage is not None:
            engine.set_usage(result.usage)
            engine.emit(EventName.USAGE_POLLED, fiveHour=result.usage.five_hour.utilization,
                        sevenDay=result.usage.seven_day.utilization)
            if engine.state.paused is not None and gates.after_good_poll(engine.state.paused) is None:
                engine.clear_pause("usage meter answered")
        elif result.kind == "no_credentials":
            engine.set_usage(UNKNOWN)
            engine.emit(EventName.USAGE_FAILED, "warning", kind=result.kind, status=None, message=result.message)
        else:
            if engine.usage.known:
                engine.set_usage(replace(engine.usage, stale=True))
            engine.emit(EventName.USAGE_FAILED, "warning", kind=result.kind, status=result.status,
                        message=result.message)
        if step.pause is not None:
            engine.set_pause(step.pause)
        engine.request_tick()

    # ------------------------------------------------------------ the clock

    async def timer_step(self) -> None:
        await asyncio.sleep(TIMER_INTERVAL)
        duties: list[Callable[[], Awaitable[None] | None]] = [
            self._check_gate_times,
            self._watch_files,
            self._look_for_agent,
            self._engine.runs.save_offsets,
            self._check_disk,
            self._periodic_rescan,
            self._write_heartbeat,
            self._prune_finished,
            self._reports.report_on_drain,
        ]
        for duty in duties:
            try:
                pending = duty()
                if pending is not None:
                    await pending
            except Exception as exc:  # one duty's failure must not stop the others
                self._duty_failed(duty.__name__, exc)

    def _duty_failed(self, duty: str, exc: Exception) -> None:
        """engine.error once per distinct failure a minute, not every half second."""
        error = f"{type(exc).__name__}: {exc}"
        moment = asyncio.get_running_loop().time()
        last = self._duty_errors.get(duty)
        if last is not None and last[0] == error and moment - last[1] < DUTY_ERROR_REPEAT:
            return
        self._duty_errors[duty] = (error, moment)
        self._engine.emit(EventName.ENGINE_ERROR, "error", where=duty, error=error, trace=traceback.format_exc(limit=8))

    def _due(self, duty: str, interval: float) -> bool:
        moment = asyncio.get_running_loop().time()
        if moment - self._last[duty] < interval:
            return False
        self._last[duty] = moment
        return True

    def _check_gate_times(self) -> None:
        engine = self._engine
        now = engine.clock.now()
        paused = engine.state.paused
        if paused is not None and gates.resume_due(paused, now):
            engine.request_tick()
        if engine.next_gate_check is not None and now >= engine.next_gate_check:
            engine.next_gate_check = None
            engine.request_tick()

    def _watch_files(self) -> None:
        """config.yaml and the credentials file are polled: both are small and rarely change."""
        engine = self._engine
        if _mtime(engine.home.config) != self._config_mtime:
            self.load_config()
            self._last["agent"] = -AGENT_CHECK_INTERVAL  # a new agent.command is looked for at once
            engine.request_tick()
        credentials = _mtime(credentials_path(engine.environ))
        if credentials != self._credentials_mtime:
            self._credentials_mtime = credentials
            self._meter_wake.set()  # fixed credentials end an auth pause at once

    def _look_for_agent(self) -> None:
        """Every few seconds, in the background: the look must never hold up the other duties."""
        if self._agent_check is not None and not self._agent_check.done():
            return
        if self._due("agent", AGENT_CHECK_INTERVAL):
            self._agent_check = self._engine.background(self._check_agent(), self._engine.chores)

    async def _check_agent(self) -> None:
        """A missing agent command pauses the queue (setup); found again, that pause ends."""
        engine = self._engine
        command, path = engine.config.agent.command, engine.environ.get("PATH")
        try:
            program = await in_daemon_thread(lambda: find_agent(command, path), AGENT_CHECK_TIMEOUT,
                                             name="find-agent")
        except TimeoutError:
            return  # the verdict stands until a look answers
        if command != engine.config.agent.command:
            return  # the setting changed meanwhile: the next look is for the new one
        paused = engine.state.paused
        after = gates.after_agent_check(paused, command, program is not None, engine.clock.now())
        if after is paused:
            return
        if after is None:
            engine.clear_pause(f"the agent command {command!r} was found")
        else:
            engine.set_pause(after)

    async def _check_disk(self) -> None:
        """While writing fails: a test write where it failed, then what the writer still holds."""
        engine = self._engine
        trouble = engine.disk_trouble
        if trouble is None or not self._due("disk", DISK_CHECK_INTERVAL):
            return
        assert engine.writer is not None
        try:
            await in_daemon_thread(lambda: _test_write(trouble), DISK_CHECK_INTERVAL, name="test-write")
            engine.writer.retry()
            async with asyncio.timeout(DISK_CHECK_INTERVAL):
                await engine.writer.flush()
        except (OSError, TimeoutError):
            return
        engine.disk_trouble = None
        if engine.paused_for(PauseReason.DISK):
            engine.clear_pause("writing works again")

    async def _periodic_rescan(self) -> None:
        if self._due("rescan", self._engine.folder.rescan_interval):
            await self._engine.folder.rescan()

    def _write_heartbeat(self) -> None:
        if not self._due("heartbeat", HEARTBEAT_INTERVAL):
            return
        engine = self._engine
        state, usage = engine.state, engine.usage
        counts: dict[str, int] = {}
        for job in state.jobs.values():
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        decision = gates.decide(engine.policy(), usage, state.paused, state.on_reset, engine.clock.now())
        record = {
            "ts": iso_ms(engine.clock.now()),
            "counts": counts,
            "gate": "open" if isinstance(decision, gates.Open) else decision.reason,
            "paused": state.paused.reason.value if state.paused else None,
            "fiveHour": usage.five_hour.utilization,
            "sevenDay": usage.seven_day.utilization,
            "stale": usage.stale,
        }
        try:
            self._heartbeat.write(record)
        except OSError as exc:
            engine.write_failed(engine.home.heartbeat, exc)

    async def _prune_finished(self) -> None:
        """Finished jobs older than keep_finished_days leave queue.json; their PRDs move to
        prds-archive/ so they are not queued again (moved, never deleted)."""
        if not self._due("prune", PRUNE_INTERVAL):
            return
        engine = self._engine
        days = engine.config.keep_finished_days
        for job in to_prune(engine.state.jobs, engine.clock.now() - dt.timedelta(days=days)):
            moved = await asyncio.to_thread(folder.archive_prd, engine.home, job.slug)
            engine.drop(job.slug, f"finished more than {days} days ago")
            if moved:
                engine.history({"event": "archived", "slug": job.slug, "to": str(moved)})


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _test_write(folder: Path) -> None:
    probe = folder / ".overnight-write-test"
    write_private_atomically(probe, b"overnight\n")
    probe.unlink()
