"""What the engine tells the world: one event type for logs, the CLI, the GUI (SPEC 9)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.paths import open_private

LOG_BYTES = 1 << 20
LOG_BACKUPS = 5


def iso_ms(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EngineEvent:
    event: str
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
    return text if len(text) <= 200 else text[:199] + "…"


class JsonLines:
    """`--json-logs`: one JSON object per line."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self._stream = stream

    def __call__(self, event: EngineEvent) -> None:
        self._stream.write(json.dumps(event.to_json(), ensure_ascii=False, default=str) + "\n")
        self._stream.flush()


class HumanLines:
    """The terminal log of `overnight run`: time, level when not info, what happened."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self._stream = stream

    def __call__(self, event: EngineEvent) -> None:
        level = "" if event.level == "info" else f"{event.level.upper()} "
        self._stream.write(f"{event.ts.astimezone():%H:%M:%S} {level}{event.describe()}\n")
        self._stream.flush()


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    def __init__(self, path: Path, on_error: Callable[[Path, OSError], None]) -> None:
        # Opened at the first line, so a log that cannot be opened is reported, not fatal.
        super().__init__(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True)
        self._on_error = on_error

    def _open(self) -> IO[str]:
        return open_private(self.baseFilename, self.mode, encoding=self.encoding)

    def handleError(self, record: logging.LogRecord) -> None:
        # A full disk must not print a traceback per line: the engine hears of it once.
        error = sys.exc_info()[1]
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None  # type: ignore[assignment]  # reopened at the next line
        if isinstance(error, OSError):
            self._on_error(Path(self.baseFilename), error)


class FileLog:
    """logs/overnight.log, rotated. A line that cannot be written is dropped and reported."""

    def __init__(self, path: Path, on_error: Callable[[Path, OSError], None] = lambda path, error: None) -> None:
        self._handler = _PrivateRotatingHandler(path, on_error)
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def __call__(self, event: EngineEvent) -> None:
        line = f"{iso_ms(event.ts)} {event.level.upper():7} {event.describe()}"
        self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
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
