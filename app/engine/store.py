"""queue.json and history.jsonl on disk (docs/BEHAVIOUR.md section 4).

Every state change is written atomically: temp file, fsync, rename, fsync of the folder,
with the previous good file kept as queue.json.bak. Writing happens on one writer thread
so the event loop never waits on the disk; `flush()` waits until what was saved is
durable (the engine does that before it starts a process, so a crash can never forget
that a run began). A damaged queue.json is moved aside, never treated as empty.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from app.core.queue import Job, Pause, PauseReason, QueueState
from app.core.queue_json import QueueFileError, job_to_json, state_from_json, state_header_to_json
from app.core.times import iso_ms
from app.engine.threads import call_soon, resolve
from app.paths import Home, open_private, write_private_atomically


@dataclass(frozen=True, slots=True)
class Loaded:
    state: QueueState
    warning: str | None = None  # shown to the user: the queue was restored or rebuilt


def _now_tag(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _read_state(path: Path) -> QueueState:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise QueueFileError(f"{path.name} cannot be read ({exc})", "restore it from a backup") from exc
    return state_from_json(document)


def load(home: Home, now: dt.datetime) -> Loaded:
    """The saved queue, or a paused empty one with the unusable file kept beside it.

    Never raises for what the files hold: a damaged queue.json, or one written by a newer
    Overnight, is moved aside (never overwritten), and the engine starts paused so the
    user decides.
    """
    path, backup = home.queue, home.queue_backup
    if not path.exists() and not backup.exists():
        return Loaded(QueueState())
    problem = "queue.json is missing"
    if path.exists():
        try:
            return Loaded(_read_state(path))
        except QueueFileError as exc:
            newer = "newer Overnight" in exc.problem
            problem = _move_aside(path, "newer" if newer else "corrupt", now, exc.problem)
            if newer:
                # Its backup is as new: reading it would undo what the newer Overnight did.
                return _rebuilt(f"{problem}. Run the newer Overnight to use it", now)
    if backup.exists():
        try:
            state = _read_state(backup)
        except QueueFileError as exc:
            problem = f"{problem}, and queue.json.bak is unusable too ({exc.problem})"
        else:
            return Loaded(state, f"{problem}; the queue was restored from queue.json.bak")
    return _rebuilt(problem, now)


def _move_aside(path: Path, kind: str, now: dt.datetime, problem: str) -> str:
    aside = path.with_name(f"{path.name}.{kind}-{_now_tag(now)}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        return f"{problem}; it could not be moved aside ({exc.strerror or exc})"
    return f"{problem}; it was moved to {aside.name}"


def _rebuilt(problem: str, now: dt.datetime) -> Loaded:
    message = (
        f"{problem}. Overnight rebuilt the queue from prds/ and paused it: jobs that had "
        "finished may show as pending. Check the queue, then Resume."
    )
    return Loaded(QueueState(paused=Pause(PauseReason.STATE, now, None, message)), message)


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """A write that failed: which file, and the error as the user should read it."""

    path: Path
    error: str


class WriteFailed(OSError):
    """What was saved could not all be written; it is kept and written again later."""

    def __init__(self, problem: WriteProblem) -> None:
        super().__init__(f"cannot write {problem.path}: {problem.error}")
        self.problem = problem


class QueueWriter:
    """The one writer of queue.json and history.jsonl.

    A write that fails (a full disk, an I/O error, a permission) loses nothing: the latest
    state and the history lines not yet appended are kept and written at the next save or
    `retry()`. `on_problem` hears, on the loop, when writing starts failing (a WriteProblem)
    and when it works again (None).
    """

    def __init__(
        self,
        home: Home,
        on_problem: Callable[[WriteProblem | None], None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._home = home
        self._on_problem = on_problem
        self._loop = loop
        self._lock = threading.Condition()
        self._state: QueueState | None = None
        self._history: list[str] = []
        self._requested = 0
        self._written = 0
        self._waiters: list[tuple[int, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._closing = False
        self._problem: WriteProblem | None = None
        self._fragments: dict[str, tuple[Job, str]] = {}
        self._thread = threading.Thread(target=self._run, name="queue-writer", daemon=True)
        self._thread.start()

    @property
    def problem(self) -> WriteProblem | None:
        return self._problem

    def save(self, state: QueueState) -> None:
        with self._lock:
            self._state = state
            self._requested += 1
            self._lock.notify()

    def append_history(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._history.append(line)
            self._requested += 1
            self._lock.notify()

    def retry(self) -> None:
        """Write again what could not be written (the disk may have room now)."""
        with self._lock:
            self._requested += 1
            self._lock.notify()

    async def flush(self) -> None:
        """Wait until everything saved so far is on disk; WriteFailed when some of it is not."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._written >= self._requested:
                future = None
            else:
                future = loop.create_future()
                self._waiters.append((self._requested, future, loop))
        if future is not None:
            await future
        problem = self._problem
        if problem is not None:
            raise WriteFailed(problem)

    def close(self, timeout: float | None = None) -> None:
        """Writes what waits, then stops (waiting at most `timeout` seconds for the disk)."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._written == self._requested and not self._closing:
                    self._lock.wait()
                if self._written == self._requested and self._closing:
                    return
                state, self._state = self._state, None
                history, self._history = self._history, []
                target = self._requested
            problem = None
            if history:
                problem = self._attempt(self._home.history, partial(self._append, history))
                if problem is not None:
                    with self._lock:
                        self._history[:0] = history  # kept, in order, before newer lines
            if state is not None:
                state_problem = self._attempt(self._home.queue, partial(self._write, state))
                if state_problem is not None:
                    with self._lock:
                        self._state = self._state or state  # kept unless a newer one came
                problem = problem or state_problem
            self._report(problem)
            with self._lock:
                self._written = target
                done = [w for w in self._waiters if w[0] <= target]
                self._waiters = [w for w in self._waiters if w[0] > target]
            for _, future, loop in done:
                call_soon(loop, resolve, future, None)

    def _attempt(self, path: Path, write: Callable[[], None]) -> WriteProblem | None:
        try:
            write()
        except OSError as exc:
            return WriteProblem(path, exc.strerror or str(exc))
        except Exception as exc:
            return WriteProblem(path, f"{type(exc).__name__}: {exc}")
        return None

    def _report(self, problem: WriteProblem | None) -> None:
        if problem == self._problem:
            return
        self._problem = problem
        if self._on_problem is not None and self._loop is not None:
            call_soon(self._loop, self._on_problem, problem)

    def _append(self, lines: list[str]) -> None:
        text = "\n".join(lines) + "\n"
        with open_private(self._home.history, "ab+") as file:
            if file.seek(0, os.SEEK_END) > 0:
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    text = "\n" + text  # an append cut short by a full disk: its remains stay one bad line
            file.write(text.encode())
            file.flush()
            os.fsync(file.fileno())

    def _write(self, state: QueueState) -> None:
        path = self._home.queue
        header = state_header_to_json(state)
        header["savedAt"] = iso_ms(dt.datetime.now(dt.UTC))
        head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))
        fragments = {}
        for slug, job in state.jobs.items():
            cached = self._fragments.get(slug)
            if cached is None or cached[0] is not job:
                cached = (job, json.dumps(job_to_json(job), ensure_ascii=False, separators=(",", ":")))
            fragments[slug] = cached
        self._fragments = fragments
        jobs = ",\n".join(text for _, text in fragments.values())
        document = f'{head[:-1]},"jobs":[\n{jobs}\n]}}\n'

        if path.exists():
            # queue.json always exists (old or new) while the backup is refreshed.
            backup_temp = path.with_name(f".{path.name}.bak.tmp")
            backup_temp.unlink(missing_ok=True)
            os.link(path, backup_temp)
            os.replace(backup_temp, self._home.queue_backup)
        write_private_atomically(path, document.encode())

