"""One agent process: started or adopted, its log tailed, its watchdogs, its tree ended.

The agent writes its stdout straight into `<slug>.jsonl` (so it keeps running and
logging if Overnight exits); Overnight tails that file from a saved offset and never
re-reads it from the start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from app.core.outcome import WATCHDOGS, ExitInfo, RunSummary, StopReason
from app.core.stream import Event, StreamReader
from app.engine import procs
from app.engine.procs import ProcessId
from app.engine.threads import call_soon, resolve
from app.paths import open_private

TAIL_INTERVAL = 0.1
READ_CHUNK = 1 << 20
READ_PER_TICK = 8 << 20  # bound the work per tick so one chatty agent cannot stall the loop
TREE_SCAN_INTERVAL = 5.0
STDERR_TAIL = 4096


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SpawnError(Exception):
    """The agent could not be started. `lasting`: only the user can fix it (the binary or the
    cwd is missing, the binary cannot be run); otherwise it may work in a moment (no memory,
    too many processes or open files)."""

    def __init__(self, message: str, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting


class AgentMissing(SpawnError):
    """The agent command names no program: the queue waits for it (a setup pause) rather than
    failing job after job."""

    def __init__(self, command: str) -> None:
        super().__init__(f"agent binary {command!r} not found on PATH — install Claude Code or set "
                         "agent.command in config.yaml to its full path")
        self.command = command


def find_agent(command: str, path: str | None) -> str | None:
    """The program `command` names: a name looked up in `path` (a PATH value), or a path to an
    executable file; None when there is none. Blocking: a PATH entry may be a dead network mount."""
    return shutil.which(command, path=path)


# What only the user can fix; any other error in creating the process is the machine's, for now.
_LASTING_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.EPERM, errno.EISDIR})


@dataclass(frozen=True, slots=True)
class Limits:
    post_result_grace: float
    kill_after: float
    idle: float
    max_duration: float


@dataclass(frozen=True, slots=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    prompt: bytes


@dataclass(slots=True)
class RunEnd:
    exit: ExitInfo
    summary: RunSummary
    offset: int
    stop_reason: StopReason | None = None  # why Overnight stopped it, if it did
    killed_leftovers: list[ProcessId] = field(default_factory=list)


EventSink = Callable[["AgentRun", list[Event]], None]


class AgentRun:
    def __init__(
        self,
        *,
        marker: str,
        log_path: Path,
        stderr_path: Path,
        started_at: dt.datetime,
        limits: Limits,
        clock: Clock,
        on_events: EventSink,
        offset: int = 0,
        summary: RunSummary | None = None,
        result_at: dt.datetime | None = None,
    ) -> None:
        self.marker = marker
        self.log_path = log_path
        self.stderr_path = stderr_path
        self.started_at = started_at
        self.result_at = result_at
        self.limits = limits
        self.summary = summary or RunSummary()
        self.ident: ProcessId | None = None
        self.stop_reason: StopReason | None = None
        self._clock = clock
        self._on_events = on_events
        self._reader = StreamReader(transcript=False)
        self._start_offset = offset
        self._read_pos = offset
        self._last_output_at = clock.now()
        self._stderr_size = 0
        self._kill_at: dt.datetime | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._known: set[ProcessId] = set()

    @property
    def offset(self) -> int:
        """Where a restarted reader resumes: always the start of a line."""
        return self._start_offset + self._reader.consumed

    # ------------------------------------------------------------ start

    async def spawn(self, launch: Launch) -> ProcessId:
        """The process, started; SpawnError when it cannot be, OSError when its files cannot be
        written (the prompt goes through an unnamed file in the run's folder)."""
        program = find_agent(launch.argv[0], launch.env.get("PATH"))
        if program is None:
            raise AgentMissing(launch.argv[0])
        if not os.path.isdir(launch.cwd):
            raise SpawnError(f"cwd {launch.cwd} does not exist — create it or fix cwd in the PRD")
        with tempfile.TemporaryFile(dir=self.log_path.parent) as stdin, open_private(
            self.log_path, "ab"
        ) as out, open_private(self.stderr_path, "ab") as err:
            stdin.write(launch.prompt)
            stdin.flush()
            stdin.seek(0)
            # What an earlier attempt left in the log (an investigation that waited for its turn
            # again) is not this run's: reading starts at its end.
            self._start_offset = self._read_pos = out.tell()
            try:
                # Not asyncio's subprocess: its transport kills the child when the loop
                # closes, and an agent must outlive an engine that quits.
                self._process = subprocess.Popen(
                    [program, *launch.argv[1:]],
                    stdin=stdin,
                    stdout=out,
                    stderr=err,
                    cwd=launch.cwd,
                    env=launch.env,
                    start_new_session=True,
                )
            except OSError as exc:
                lasting = exc.errno in _LASTING_ERRNOS
                raise SpawnError(f"could not start {program}: {exc.strerror or exc}", lasting) from exc
        self.ident = procs.identify(self._process.pid) or ProcessId(self._process.pid, 0.0)
        self._last_output_at = self._clock.now()
        return self.ident

    def adopt(self, ident: ProcessId) -> None:
        """Keep supervising a run a previous engine started; its idle clock restarts from the
        last time its log grew."""
        self.ident = ident
        try:
            mtime = self.log_path.stat().st_mtime
            self._last_output_at = dt.datetime.fromtimestamp(mtime, dt.UTC)
        except OSError:
            pass

    # ------------------------------------------------------------ supervise

    async def supervise(self) -> RunEnd:
        assert self.ident is not None
        exited = exit_future(self._process) if self._process is not None else None
        last_scan = -TREE_SCAN_INTERVAL
        loop = asyncio.get_running_loop()
        with open_private(self.log_path, "ab+") as log:  # created if the agent has not written yet
            while True:
                self._read(log.fileno())
                self._watchdogs()
                if loop.time() - last_scan >= TREE_SCAN_INTERVAL:
                    last_scan = loop.time()
                    self._known.update(await asyncio.to_thread(procs.descendants, self.ident))
                if exited is not None:
                    done, _ = await asyncio.wait({exited}, timeout=TAIL_INTERVAL)
                    if done:
                        break
                else:
                    await asyncio.sleep(TAIL_INTERVAL)
                    if not procs.is_alive(self.ident):
                        break
            self._read(log.fileno())
            self._deliver(self._reader.finish())
        leftovers = await asyncio.to_thread(self._end_leftovers)
        returncode = exited.result() if exited is not None else None
        return RunEnd(self._exit_info(returncode), self.summary, self.offset, self.stop_reason, leftovers)

    async def read_end(self) -> RunEnd:
        """A run that ended while no engine watched it: the rest of its log (none if it never
        got one), then no survivors."""
        await asyncio.to_thread(self._read_to_end)
        self._deliver(self._reader.finish(), notify=False)
        leftovers = await asyncio.to_thread(self._end_leftovers)
        return RunEnd(self._exit_info(None), self.summary, self.offset, self.stop_reason, leftovers)

    def _read_to_end(self) -> None:
        """Blocking: the whole rest of the log into the summary (nobody listens to a run that already ended)."""
        try:
            log = open(self.log_path, "rb")  # noqa: SIM115 - closed below; a missing log is an empty one
        except OSError:
            return
        with log:
            while self._read(log.fileno(), notify=False):
                pass

    def _read(self, fd: int, notify: bool = True) -> bool:
        """The log's new lines, up to READ_PER_TICK; True when there may be more."""
        budget = READ_PER_TICK
        while budget > 0:
            chunk = os.pread(fd, READ_CHUNK, self._read_pos)
            if not chunk:
                break
            self._read_pos += len(chunk)
            budget -= len(chunk)
            self._last_output_at = self._clock.now()
            self._deliver(self._reader.feed(chunk), notify)
        try:
            size = self.stderr_path.stat().st_size
        except OSError:
            size = self._stderr_size
        if size != self._stderr_size:
            self._stderr_size = size
            self._last_output_at = self._clock.now()
        return budget <= 0

    def _deliver(self, events: list[Event], notify: bool = True) -> None:
        if not events:
            return
        for event in events:
            self.summary.observe(event)
        if self.result_at is None and self.summary.result is not None:
            self.result_at = self._clock.now()
        if notify:
            self._on_events(self, events)

    def _watchdogs(self) -> None:
        now = self._clock.now()
        if self._kill_at is not None:
            if now >= self._kill_at:
                self._kill_at = None
                self._signal(signal.SIGKILL)
            return
        if self.stop_reason is not None:
            return
        limits = self.limits
        if self.result_at is not None and (now - self.result_at).total_seconds() >= limits.post_result_grace:
            # An agent that printed its result but does not exit (a background shell keeping
            # it alive) would otherwise hold its slot for hours.
            self.stop(StopReason.POST_RESULT)
        elif (now - self._last_output_at).total_seconds() >= limits.idle:
            self.stop(StopReason.IDLE)
        elif (now - self.started_at).total_seconds() >= limits.max_duration:
            self.stop(StopReason.MAX_DURATION)

    # ------------------------------------------------------------ stop

    def stop(self, reason: StopReason) -> None:
        """SIGTERM the whole tree now, SIGKILL after `kill_after`. A cancel wins over a
        watchdog as the recorded reason; signals are sent once."""
        if self.stop_reason is not None:
            if reason == StopReason.CANCEL:
                self.stop_reason = reason
            return
        self.stop_reason = reason
        self._signal(signal.SIGTERM)
        self._kill_at = self._clock.now() + dt.timedelta(seconds=self.limits.kill_after)

    def kill(self, reason: StopReason) -> None:
        """SIGKILL the whole tree now (when Overnight can no longer supervise it)."""
        self.stop_reason = self.stop_reason or reason
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.ident is not None:
            procs.signal_group(self.ident.pid, sig)
            procs.signal_all([self.ident, *self._known], sig)
        # Processes that left the group and the session still carry the marker (and so does a
        # verify command run after the agent ended, even one of a run found ended at a restart).
        since = self.started_at.timestamp()
        procs.signal_all(procs.marked([self.marker], since)[self.marker], sig)

    def _end_leftovers(self) -> list[ProcessId]:
        """No survivors: whatever the run started and is still alive is ended."""
        return procs.end_run(self.marker, self.started_at.timestamp(), self.limits.kill_after, self._known)

    def _exit_info(self, returncode: int | None) -> ExitInfo:
        return ExitInfo(
            returncode=returncode,
            watchdog=self.stop_reason if self.stop_reason in WATCHDOGS else None,
            cancelled=self.stop_reason == StopReason.CANCEL,
            spend_guard=self.stop_reason == StopReason.SPEND,
            stderr_tail=_tail(self.stderr_path, STDERR_TAIL),
        )


def _tail(path: Path, size: int) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - size))
            return file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def exit_future(process: subprocess.Popen[bytes]) -> asyncio.Future[int]:
    """Resolves with the child's return code when it exits (a pidfd on Linux, else a thread)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        def wait() -> None:
            code = process.wait()
            call_soon(loop, resolve, future, code)

        threading.Thread(target=wait, name=f"wait {process.pid}", daemon=True).start()
        return future

    def readable() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        future.set_result(process.wait())

    loop.add_reader(pidfd, readable)
    return future
