"""The agent's stream-JSON output: an incremental reader that turns its lines into typed events.

What the events mean for the run is `app.core.outcome`; how they read as text, `app.core.transcript`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from app.core.limits import reset_from_epoch

# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True)
class Init:
    session_id: str
    model: str
    cwd: str
    version: str
    api_key_source: str  # the credential it bills: "none" is the subscription login


@dataclass(frozen=True, slots=True)
class ApiRetry:
    attempt: int | None
    max_retries: int | None
    error_status: int | None
    retry_delay_ms: float | None


@dataclass(frozen=True, slots=True)
class AssistantText:
    text: str
    synthetic: bool  # written by the CLI itself (e.g. its rate-limit notice), not by the model


@dataclass(frozen=True, slots=True)
class ToolUse:
    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_use_id: str
    content: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class RateLimit:
    status: str
    resets_at: int | None  # epoch seconds, as the CLI wrote it
    limit_type: str | None
    using_overage: bool | None

    def stated_reset(self) -> datetime | None:
        """When the window resets as the CLI stated it; None when it stated no moment a
        datetime can hold."""
        if self.resets_at is None:
            return None
        try:
            return reset_from_epoch(self.resets_at)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Result:
    subtype: str
    is_error: bool
    api_error_status: int | None
    num_turns: int | None
    duration_ms: int | None
    total_cost_usd: float | None
    text: str
    terminal_reason: str | None
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unparsed:
    text: str


Event: TypeAlias = (
    Init | ApiRetry | AssistantText | ToolUse | ToolResult | RateLimit | Result | Unparsed
)

_UNPARSED_KEEP = 500

# ---------------------------------------------------------------------------------------------
# Defensive field readers: a missing or wrongly-typed field gives the default, never raises.


def as_text(value: object) -> str:
    """A field that should be text: itself if it is, else ""."""
    return value if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _blocks(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if not isinstance(value, list):
        return []
    return [block for block in value if isinstance(block, dict)]


# ---------------------------------------------------------------------------------------------
# One decoded line → events


def _system_events(line: Mapping[str, Any]) -> list[Event]:
    subtype = line.get("subtype")
    if subtype == "init":
        return [
            Init(
                session_id=as_text(line.get("session_id")),
                model=as_text(line.get("model")),
                cwd=as_text(line.get("cwd")),
                version=as_text(line.get("claude_code_version")),
                api_key_source=as_text(line.get("apiKeySource")),
            )
        ]
    if subtype == "api_retry":
        return [
            ApiRetry(
                attempt=_integer(line.get("attempt")),
                max_retries=_integer(line.get("max_retries")),
                error_status=_integer(line.get("error_status")),
                retry_delay_ms=_number(line.get("retry_delay_ms")),
            )
        ]
    return []


def _assistant_events(line: Mapping[str, Any]) -> list[Event]:
    message = _object(line.get("message"))
    synthetic = message.get("model") == "<synthetic>" or line.get("error") is not None
    events: list[Event] = []
    for block in _blocks(message.get("content")):
        kind = block.get("type")
        if kind == "text":
            events.append(AssistantText(as_text(block.get("text")), synthetic))
        elif kind == "tool_use":
            events.append(
                ToolUse(
                    id=as_text(block.get("id")),
                    name=as_text(block.get("name")),
                    input=_object(block.get("input")),
                )
            )
    return events


def _user_events(line: Mapping[str, Any]) -> list[Event]:
    message = _object(line.get("message"))
    return [
        ToolResult(
            tool_use_id=as_text(block.get("tool_use_id")),
            content=_flat_text(block.get("content")),
            is_error=block.get("is_error") is True,
        )
        for block in _blocks(message.get("content"))
        if block.get("type") == "tool_result"
    ]


def _flat_text(content: object) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        as_text(block.get("text")) for block in _blocks(content) if block.get("type") == "text"
    )


def _rate_limit_events(line: Mapping[str, Any]) -> list[Event]:
    info = _object(line.get("rate_limit_info"))
    return [
        RateLimit(
            status=as_text(info.get("status")),
            resets_at=_integer(info.get("resetsAt")),
            limit_type=_optional_text(info.get("rateLimitType")),
            using_overage=_flag(info.get("isUsingOverage")),
        )
    ]


def _result_events(line: Mapping[str, Any]) -> list[Event]:
    subtype = as_text(line.get("subtype"))
    is_error = _flag(line.get("is_error"))
    errors = line.get("errors")
    return [
        Result(
            subtype=subtype,
            is_error=is_error if is_error is not None else subtype != "success",
            api_error_status=_integer(line.get("api_error_status")),
            num_turns=_integer(line.get("num_turns")),
            duration_ms=_integer(line.get("duration_ms")),
            total_cost_usd=_number(line.get("total_cost_usd")),
            text=as_text(line.get("result")),
            terminal_reason=_optional_text(line.get("terminal_reason")),
            errors=tuple(e for e in errors if isinstance(e, str))
            if isinstance(errors, list)
            else (),
        )
    ]


_EVENTS_BY_TYPE: dict[str, Callable[[Mapping[str, Any]], list[Event]]] = {
    "system": _system_events,
    "assistant": _assistant_events,
    "user": _user_events,
    "rate_limit_event": _rate_limit_events,
    "result": _result_events,
}


def _events_from(line: Mapping[str, Any]) -> list[Event]:
    to_events = _EVENTS_BY_TYPE.get(as_text(line.get("type")))
    return to_events(line) if to_events else []


# ---------------------------------------------------------------------------------------------
# The incremental reader

_USER_LINE = b'{"type":"user"'
_ASSISTANT_LINE = b'{"type":"assistant"'
_SYNTHETIC_MARK = b'"<synthetic>"'
_ERROR_MARK = b'"error"'


def _matters_only_for_transcript(line: bytes) -> bool:
    """A line that cannot change the outcome: no need to decode it when only classifying."""
    if line.startswith(_USER_LINE):
        return True
    return (
        line.startswith(_ASSISTANT_LINE) and _SYNTHETIC_MARK not in line and _ERROR_MARK not in line
    )


def _preview(line: bytes) -> str:
    head = line[: _UNPARSED_KEEP * 4].decode("utf-8", errors="replace")
    return head.strip()[:_UNPARSED_KEEP]


class StreamReader:
    """Bytes of a stream-JSON file that is still being written in, typed events out.

    Only complete lines are parsed; a partial last line waits for the next chunk (or `finish`).
    `consumed` counts the bytes of the lines parsed so far, so `start_offset + consumed` is
    always a line boundary to resume from. `skipped` counts lines that are not JSON objects
    (each also yields an `Unparsed` event). With `transcript=False` the reader only decodes
    what classification needs, which keeps tailing many agents cheap.
    """

    def __init__(self, transcript: bool = True) -> None:
        self.transcript = transcript
        self.consumed = 0
        self.skipped = 0
        self._partial: list[bytes] = []
        self._partial_size = 0

    def feed(self, chunk: bytes) -> list[Event]:
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if not lines:
            self._keep_partial(rest)
            return []
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
        self.consumed += self._partial_size + len(chunk) - len(rest)
        self._partial, self._partial_size = [], 0
        self._keep_partial(rest)
        return self._parse_lines(lines)

    def finish(self) -> list[Event]:
        """Parse a last line that has no newline: the writer has exited. Counts it as consumed."""
        line = b"".join(self._partial)
        self.consumed += self._partial_size
        self._partial, self._partial_size = [], 0
        return self._parse_lines([line])

    def _keep_partial(self, piece: bytes) -> None:
        if piece:
            self._partial.append(piece)
            self._partial_size += len(piece)

    def _parse_lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        skip_transcript = not self.transcript
        for line in lines:
            if skip_transcript and _matters_only_for_transcript(line):
                continue
            if not line or line.isspace():
                continue
            events.extend(self._parse_line(line))
        return events

    def _parse_line(self, line: bytes) -> list[Event]:
        try:
            decoded = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            decoded = None
        if not isinstance(decoded, dict):
            self.skipped += 1
            return [Unparsed(_preview(line))]
        return _events_from(decoded)
