"""The prds/ folder, watched (docs/BEHAVIOUR.md section 3).

A file is handed to the engine as soon as it is complete: at once on a close after
writing or a move into the folder, otherwise once its size and mtime have been stable
for 300 ms, so a drop reaches the queue in milliseconds and a slow writer is never read
half-written. Deletions are reported at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

STABLE_FOR = 0.3
# Folders too: one named like a PRD is listed as invalid at once, not at the next rescan.
_RELEVANT = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
             DirCreatedEvent, DirDeletedEvent, DirMovedEvent]


class _StopWhileReading(logging.Filter):
    """watchdog logs an ERROR when it is stopped in the middle of a read; the read is just
    dropped, and the user would otherwise see an alarming line at every quit."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_StopWhileReading())


def _observer() -> BaseObserver:
    platform: str = sys.platform  # not narrowed: the other branch is for other systems
    if platform.startswith("linux"):
        from watchdog.observers.inotify import InotifyObserver

        # A file moved in from outside the folder is then a move (complete), not a creation.
        return InotifyObserver(generate_full_events=True)
    return Observer()


class _Forward(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[FileSystemEvent], None]) -> None:
        self._loop = loop
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._loop.call_soon_threadsafe(self._sink, event)


class FolderWatcher:
    """Reports names in `folder` that are ready to read or gone, on the event loop."""

    def __init__(self, folder: Path, on_ready: Callable[[str], None]) -> None:
        self._folder = folder
        self._on_ready = on_ready
        self._waiting: dict[str, tuple[tuple[int, int] | None, asyncio.TimerHandle]] = {}
        self._observer = _observer()

    def start(self) -> None:
        handler = _Forward(asyncio.get_running_loop(), self._handle)
        self._observer.schedule(handler, str(self._folder), recursive=False, event_filter=_RELEVANT)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()

    def _handle(self, event: FileSystemEvent) -> None:
        if isinstance(event, (FileMovedEvent, DirMovedEvent)):
            self._path_event(os.fsdecode(event.src_path), complete=True)
            self._path_event(os.fsdecode(event.dest_path), complete=True)
        elif isinstance(event, (FileClosedEvent, FileDeletedEvent, DirCreatedEvent, DirDeletedEvent)):
            self._path_event(os.fsdecode(event.src_path), complete=True)
        elif isinstance(event, (FileCreatedEvent, FileModifiedEvent)):
            self._path_event(os.fsdecode(event.src_path), complete=False)

    def _path_event(self, raw: str, complete: bool) -> None:
        if not raw:  # the far end of a move into or out of the folder
            return
        path = Path(raw)
        if path.parent != self._folder:
            return
        name = path.name
        if complete or not path.exists():
            self._ready(name)
        else:
            self._wait_until_still(name, _signature(path))

    def _wait_until_still(self, name: str, seen: tuple[int, int] | None) -> None:
        """Ready once it has not changed for STABLE_FOR seconds (a writer may still be at work)."""
        previous = self._waiting.pop(name, None)
        if previous is not None:
            previous[1].cancel()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(STABLE_FOR, self._check_stable, name)
        self._waiting[name] = (seen, timer)

    def _check_stable(self, name: str) -> None:
        seen, _ = self._waiting.pop(name, (None, None))
        now = _signature(self._folder / name)
        if now is None or now == seen:
            self._on_ready(name)
        else:
            self._wait_until_still(name, now)

    def _ready(self, name: str) -> None:
        waiting = self._waiting.pop(name, None)
        if waiting is not None:
            waiting[1].cancel()
        self._on_ready(name)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns
