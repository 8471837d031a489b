"""queue.json and history.jsonl on disk (SPEC section 4).

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.queue import (
    Job,
    Pause,
    PauseReason,
    QueueFileError,
    QueueState,
    job_to_json,
    state_from_json,
    state_header_to_json,
)
from app.paths import Home, open_private, write_private_atomically


class NewerQueueError(Exception):
    """queue.json belongs to a newer Overnight: refusing to start rather than overwrite it."""


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
    """The saved queue, or a paused empty one with the damaged file kept beside it."""
    path, backup = home.queue, home.queue_backup
    if not path.exists() and not backup.exists():
        return Loaded(QueueState())
    problem = "queue.json is missing"
    if path.exists():
        try:
            return Loaded(_read_state(path))
        except QueueFileError as exc:
            if "newer Overnight" in exc.problem:
                raise NewerQueueError(f"{path}: {exc.problem} — {exc.fix}") from exc
            problem = exc.problem
            aside = path.with_name(f"queue.json.corrupt-{_now_tag(now)}")
            os.replace(path, aside)
            problem = f"{problem}; it was moved to {aside.name}"
    if backup.exists():
        try:
            state = _read_state(backup)
        except QueueFileError as exc:
            problem = f"{problem}, and queue.json.bak is unusable too ({exc.problem})"
        else:
            return Loaded(state, f"{problem}; the queue was restored from queue.json.bak")
    message = (
        f"{problem}. Overnight rebuilt the queue from prds/ and paused it: jobs that had "
        "finished may show as pending. Check the queue, then Resume."
    )
    return Loaded(QueueState(paused=Pause(PauseReason.STATE, now, None, message)), message)


class QueueWriter:
    """The one writer of queue.json and history.jsonl."""

    def __init__(self, home: Home) -> None:
        self._home = home
        self._lock = threading.Condition()
        self._state: QueueState | None = None
        self._history: list[str] = []
        self._requested = 0
        self._written = 0
        self._waiters: list[tuple[int, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._closing = False
        self._error: BaseException | None = None
        self._fragments: dict[str, tuple[Job, str]] = {}
        self._thread = threading.Thread(target=self._run, name="queue-writer", daemon=True)
        self._thread.start()

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

    async def flush(self) -> None:
        """Wait until everything saved so far is on disk."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._written >= self._requested:
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((self._requested, future, loop))
        await future

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join()

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
            try:
                if history:
                    self._append(history)
                if state is not None:
                    self._write(state)
            except BaseException as exc:  # noqa: BLE001 — reported to every waiter
                error = exc
            else:
                error = None
            with self._lock:
                self._written = target
                self._error = error or self._error
                done = [w for w in self._waiters if w[0] <= target]
                self._waiters = [w for w in self._waiters if w[0] > target]
            for _, future, loop in done:
                loop.call_soon_threadsafe(_settle, future, error)

    def _append(self, lines: list[str]) -> None:
        with open_private(self._home.history, "a") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def _write(self, state: QueueState) -> None:
        path = self._home.queue
        header = state_header_to_json(state)
        header["savedAt"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
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


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
