"""What the engine tells the world: one event type for logs, the CLI, the GUI (docs/BEHAVIOUR.md section 9)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.handlers
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from app.core.event_names import EventName
from app.core.text import shorten
from app.core.times import iso_ms
from app.paths import open_private

LOG_BYTES = 1 << 20
LOG_BACKUPS = 5


@dataclass(frozen=True, slots=True)
class EngineEvent:
    event: EventName
    ts: dt.datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    level: str = "info"

    def to_json(self) -> dict[str, Any]:
        return {"ts": iso_ms(self.ts), "level": self.level, "event": self.event, **self.fields}

    def describe(self) -> str:
        details = " ".join(f"{key}={_short(value)}" for key, value in self.fields.items())
        return f"{self.event} {details}".rstrip()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return shorten(text, 200)


class _LineWriter:
    """Events formatted and written on a thread of their own, in batches: a slow disk, a slow
    terminal or a stderr pipe nobody reads never holds up the event loop. At most MAX_WAITING
    events wait; beyond that they are dropped, and how many is written when it can be."""

    MAX_WAITING = 100_000

    def __init__(self, write: Callable[[list[str]], None], line: Callable[[EngineEvent], str], name: str) -> None:
        self._write = write
        self._line = line
        self._events: queue.SimpleQueue[EngineEvent | None] = queue.SimpleQueue()
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __call__(self, event: EngineEvent) -> None:
        if self._events.qsize() >= self.MAX_WAITING:
            self._dropped += 1
            return
        self._events.put(event)

    def close(self, timeout: float = 5.0) -> None:
        """Writes what waits (for at most `timeout` seconds), then stops."""
        self._events.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._events.get()]
            while not self._events.empty() and len(batch) < 1000:
                batch.append(self._events.get())
            closing = None in batch
            lines = [self._line(event) for event in batch if event is not None]
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                lines.append(f"({dropped} log lines were dropped: they came faster than they could be written)")
            if lines:
                try:
                    self._write(lines)
                except (OSError, ValueError):
                    pass  # a closed or broken stream: the engine goes on without it
            if closing:
                return


class _StreamLines(_LineWriter):
    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self._stream = stream
        super().__init__(self._write_to_stream, self.line, "log-stream")

    def line(self, event: EngineEvent) -> str:
        raise NotImplementedError

    def _write_to_stream(self, lines: list[str]) -> None:
        self._stream.write("".join(line + "\n" for line in lines))
        self._stream.flush()


class JsonLines(_StreamLines):
    """`--json-logs`: one JSON object per line."""

    def line(self, event: EngineEvent) -> str:
        return json.dumps(event.to_json(), ensure_ascii=False, default=str)


class HumanLines(_StreamLines):
    """The terminal log of `overnight run`: time, level when not info, what happened."""

    def line(self, event: EngineEvent) -> str:
        level = "" if event.level == "info" else f"{event.level.upper()} "
        return f"{event.ts.astimezone():%H:%M:%S} {level}{event.describe()}"


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    def __init__(self, path: Path, on_error: Callable[[Path, OSError], None]) -> None:
        # Opened at the first line, so a log that cannot be opened is reported, not fatal.
        super().__init__(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True)
        self._on_error = on_error

    def _open(self) -> io.TextIOWrapper:
        # Text mode: open() gives a TextIOWrapper, as the base class promises.
        return cast(io.TextIOWrapper, open_private(self.baseFilename, self.mode, encoding=self.encoding))

    def handleError(self, record: logging.LogRecord) -> None:
        # A full disk must not print a traceback per line: the engine hears of it once.
        error = sys.exc_info()[1]
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None  # reopened at the next line
        if isinstance(error, OSError):
            self._on_error(Path(self.baseFilename), error)


class FileLog(_LineWriter):
    """logs/overnight.log, rotated, written on its own thread. A line that cannot be written
    is dropped and `on_error` hears why (on that thread)."""

    def __init__(self, path: Path, on_error: Callable[[Path, OSError], None] = lambda path, error: None) -> None:
        self._handler = _PrivateRotatingHandler(path, on_error)
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        super().__init__(self._write_to_file, self.line, "log-file")

    @staticmethod
    def line(event: EngineEvent) -> str:
        return f"{iso_ms(event.ts)} {event.level.upper():7} {event.describe()}"

    def _write_to_file(self, lines: list[str]) -> None:
        for line in lines:
            self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        self._handler.close()


class Heartbeat:
    """logs/heartbeat.jsonl: one line a minute, rotated at 1 MiB."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def write(self, record: Mapping[str, Any]) -> None:
        try:
            if self._path.stat().st_size >= LOG_BYTES:
                self._path.replace(self._path.with_name(self._path.name + ".1"))
        except FileNotFoundError:
            pass
        with open_private(self._path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
