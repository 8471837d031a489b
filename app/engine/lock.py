"""One engine per home (docs/BEHAVIOUR.md section 9): an advisory lock that dies with its holder."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from app.engine.quarantine import move_aside
from app.paths import private_opener


class EngineLocked(Exception):
    """Another engine holds this home; says which and where."""

    def __init__(self, path: Path, pid: int | None, started_at: str | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        since = f", started {started_at}" if started_at else ""
        super().__init__(
            f"an Overnight engine is already running for {path.parent} ({who}{since}); "
            "use `overnight status` to see it, or stop it first"
        )
        self.pid = pid


class EngineLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if os.path.lexists(self._path) and not os.path.isfile(self._path):
            # A folder or a FIFO where the lock file goes cannot be a lock anyone holds.
            move_aside(self._path, dt.datetime.now(dt.UTC))
        fd = private_opener(self._path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(self._path)
            os.close(fd)
            raise EngineLocked(self._path, holder.get("pid"), holder.get("startedAt")) from None
        os.ftruncate(fd, 0)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.write(fd, json.dumps({"pid": os.getpid(), "startedAt": now}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def holder_of(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
