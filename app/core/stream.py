"""The agent's stream-JSON output: an incremental reader of typed events, and the run's outcome."""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeAlias

from app.core import limits

# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True)
class Init:
    session_id: str
    model: str
    cwd: str
    version: str


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
    resets_at: int | None
    limit_type: str | None
    using_overage: bool | None


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


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


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
                session_id=_text(line.get("session_id")),
                model=_text(line.get("model")),
                cwd=_text(line.get("cwd")),
                version=_text(line.get("claude_code_version")),
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
            events.append(AssistantText(_text(block.get("text")), synthetic))
        elif kind == "tool_use":
            events.append(
                ToolUse(
                    id=_text(block.get("id")),
                    name=_text(block.get("name")),
                    input=_object(block.get("input")),
                )
            )
    return events


def _user_events(line: Mapping[str, Any]) -> list[Event]:
    message = _object(line.get("message"))
    return [
        ToolResult(
            tool_use_id=_text(block.get("tool_use_id")),
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
        _text(block.get("text")) for block in _blocks(content) if block.get("type") == "text"
    )


def _rate_limit_events(line: Mapping[str, Any]) -> list[Event]:
    info = _object(line.get("rate_limit_info"))
    return [
        RateLimit(
            status=_text(info.get("status")),
            resets_at=_integer(info.get("resetsAt")),
            limit_type=_optional_text(info.get("rateLimitType")),
            using_overage=_flag(info.get("isUsingOverage")),
        )
    ]


def _result_events(line: Mapping[str, Any]) -> list[Event]:
    subtype = _text(line.get("subtype"))
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
            text=_text(line.get("result")),
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
    to_events = _EVENTS_BY_TYPE.get(_text(line.get("type")))
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


# ---------------------------------------------------------------------------------------------
# What classification needs from a run's events


@dataclass
class RunSummary:
    """Accumulates, event by event, what `classify` needs to know about one run."""

    result: Result | None = None  # the first successful result, else the last one
    rejected: RateLimit | None = None  # the last rate_limit_event with status "rejected"
    limit_message: str | None = None  # the first limit sentence printed by the CLI itself
    skipped: int = 0
    saw_init: bool = False

    def observe(self, event: Event) -> None:
        match event:
            case Init():
                self.saw_init = True
            case Result():
                if self.result is None or self.result.is_error:
                    self.result = event
                if event.is_error:
                    self._look_for_limit_message(event.text)
            case RateLimit(status="rejected"):
                self.rejected = event
            case AssistantText(synthetic=True):
                self._look_for_limit_message(event.text)
            case Unparsed():
                self.skipped += 1
                self._look_for_limit_message(event.text)

    def _look_for_limit_message(self, text: str) -> None:
        if self.limit_message is None:
            self.limit_message = limits.find_limit_message(text)


# ---------------------------------------------------------------------------------------------
# The outcome


@dataclass(frozen=True)
class ExitInfo:
    returncode: int | None  # negative: killed by signal N; None: unknown (not our child)
    watchdog: str | None = None  # "post_result" | "idle" | "max_duration"
    cancelled: bool = False
    spawn_error: str | None = None
    stderr_tail: str = ""


@dataclass(frozen=True)
class Outcome:
    kind: str  # "completed" | "failed" | "rate_limited" | "cancelled"
    reason: str
    resets_at: datetime | None = None
    limit_type: str | None = None
    spawn_error: bool = False


@dataclass(frozen=True)
class _LimitHit:
    resets_at: datetime | None
    limit_type: str | None
    reason: str


_WATCHDOG_REASONS = {
    "idle": "stopped by the idle watchdog: no output for longer than watchdog.idle",
    "max_duration": "stopped by the max_duration watchdog: ran longer than watchdog.max_duration",
}

_REASON_KEEP = 300


def classify(summary: RunSummary, exit: ExitInfo, now: datetime, local_tz: tzinfo) -> Outcome:
    """The run's outcome (SPEC 7): rate_limited, completed, cancelled, else failed."""
    limit = _limit_hit(summary, exit.stderr_tail, now, local_tz)
    result = summary.result
    # After a success the work is done (the CLI may go on in overage after a rejected event):
    # running it again would run it twice, so the limit only pauses the queue.
    if result is not None and not result.is_error:
        return _completed(result, exit, limit)
    if limit is not None:
        return Outcome("rate_limited", limit.reason, limit.resets_at, limit.limit_type)
    if exit.cancelled:
        return Outcome("cancelled", "cancelled by the user")
    if exit.spawn_error:
        return Outcome("failed", exit.spawn_error, spawn_error=True)
    return Outcome("failed", _failure_reason(summary, exit))


def _limit_hit(
    summary: RunSummary, stderr_tail: str, now: datetime, local_tz: tzinfo
) -> _LimitHit | None:
    message = summary.limit_message or limits.find_limit_message(stderr_tail)
    rejected = summary.rejected
    result = summary.result
    got_429 = result is not None and result.is_error and result.api_error_status == 429
    if rejected is None and message is None and not got_429:
        return None
    resets_at = rejection_reset(rejected, now) if rejected else None
    if resets_at is None and message is not None:
        resets_at = limits.reset_from_text(message, now, local_tz)
    limit_type = rejected.limit_type if rejected else None
    if limit_type is None and message is not None:
        limit_type = limits.limit_kind_from_text(message)
    return _LimitHit(resets_at, limit_type, _limit_reason(message, limit_type, resets_at))


def rejection_reset(event: RateLimit, now: datetime) -> datetime | None:
    """When the window a `rate_limit_event` reports resets, if the CLI said so plausibly."""
    return limits.plausible_reset(_epoch_reset(event.resets_at), now)


def _epoch_reset(seconds: int | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return limits.reset_from_epoch(seconds)
    except ValueError:
        return None


def _limit_reason(message: str | None, limit_type: str | None, resets_at: datetime | None) -> str:
    if message is not None:
        return _one_line(message)
    kind = f" ({limit_type})" if limit_type else ""
    when = f", resets {resets_at.isoformat()}" if resets_at else ", reset time unknown"
    return f"usage limit reached{kind}{when}"


def _completed(result: Result, exit: ExitInfo, limit: _LimitHit | None) -> Outcome:
    turns = f", {_count(result.num_turns, 'turn')}" if result.num_turns is not None else ""
    reason = f"result: {result.subtype}{turns}"
    if exit.watchdog == "post_result":
        reason += "; the agent did not exit after its result and was stopped"
    if limit is None:
        return Outcome("completed", reason)
    return Outcome("completed", f"{reason}; then {limit.reason}", limit.resets_at, limit.limit_type)


def _failure_reason(summary: RunSummary, exit: ExitInfo) -> str:
    if summary.result is not None:
        return _error_result_reason(summary.result)
    if exit.watchdog is not None:
        ended = _WATCHDOG_REASONS.get(exit.watchdog, f"stopped by the {exit.watchdog} watchdog")
        return f"{ended}, without a result"
    return _exit_reason(exit.returncode) + _stderr_hint(exit.stderr_tail)


def _error_result_reason(result: Result) -> str:
    if result.subtype and result.subtype != "success":
        detail = "; ".join(result.errors) or result.text
        return _one_line(f"{result.subtype}: {detail}" if detail else result.subtype)
    status = f" (API status {result.api_error_status})" if result.api_error_status else ""
    return _one_line(f"the agent reported an error{status}: {result.text or 'no message'}")


def _exit_reason(returncode: int | None) -> str:
    if returncode is None:
        return "interrupted: the run ended without a result (exit status unknown)"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)} without a result"
    return f"exited with code {returncode} without a result"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stderr_hint(stderr_tail: str) -> str:
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    return f": {_one_line(lines[-1])}" if lines else ""


def _one_line(text: str, keep: int = _REASON_KEEP) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= keep else flat[: keep - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Plain-text rendering

_PATH_TOOLS = ("Write", "Edit", "MultiEdit", "Read", "NotebookEdit")
_KEY_ARGUMENT = {
    "Bash": "command",
    "Grep": "pattern",
    "Glob": "pattern",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
    "Agent": "description",
}
_ARGUMENT_KEEP = 120
_ERROR_KEEP = 300


def describe_tool_call(name: str, input: Mapping[str, Any]) -> str:
    """A short label for a tool call with its key argument: "Write /p/notes.txt", "Bash ls"."""
    argument = _key_argument(name, input)
    return f"{name} {argument}" if argument else name


def _key_argument(name: str, input: Mapping[str, Any]) -> str:
    if name in _PATH_TOOLS:
        return _first_line(_text(input.get("file_path")) or _text(input.get("notebook_path")))
    if name == "TodoWrite":
        todos = input.get("todos")
        return _count(len(todos), "item") if isinstance(todos, list) else ""
    key = _KEY_ARGUMENT.get(name)
    return _first_line(_text(input.get(key))) if key else ""


def _first_line(text: str, keep: int = _ARGUMENT_KEEP) -> str:
    lines = text.strip().splitlines()
    if not lines:
        return ""
    first = lines[0]
    if len(first) > keep:
        return first[: keep - 1] + "…"
    return first + " …" if len(lines) > 1 else first


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def render_text(events: Iterable[Event]) -> str:
    """A compact plain-text transcript: one entry per event a reader cares about."""
    return "\n".join(line for event in events if (line := _render(event)))


def _render(event: Event) -> str:
    match event:
        case Init():
            return f"session {event.session_id}: {event.model} in {event.cwd}"
        case AssistantText(synthetic=True):
            return f"cli: {event.text}"
        case AssistantText():
            return f"assistant: {event.text}"
        case ToolUse():
            return f"→ {describe_tool_call(event.name, event.input)}"
        case ToolResult(is_error=True):
            return f"← error: {_one_line(event.content, _ERROR_KEEP)}"
        case ToolResult():
            return f"← ok ({_count(len(event.content), 'char')})"
        case RateLimit(status="allowed"):
            return ""
        case RateLimit():
            return _render_rate_limit(event)
        case ApiRetry():
            return _render_api_retry(event)
        case Result():
            return _render_result(event)
        case Unparsed():
            return f"unreadable line: {_one_line(event.text)}"
    return ""


def _render_rate_limit(event: RateLimit) -> str:
    kind = f" ({event.limit_type})" if event.limit_type else ""
    resets = _epoch_reset(event.resets_at)
    when = f", resets {resets.isoformat()}" if resets else ""
    return f"rate limit: {event.status}{kind}{when}"


def _render_api_retry(event: ApiRetry) -> str:
    status = event.error_status if event.error_status is not None else "connection error"
    delay = f", next try in {event.retry_delay_ms / 1000:.1f} s" if event.retry_delay_ms else ""
    return f"API retry {event.attempt}/{event.max_retries} after {status}{delay}"


def _render_result(event: Result) -> str:
    label = "error" if event.is_error and event.subtype == "success" else event.subtype
    status = f" ({event.api_error_status})" if event.api_error_status is not None else ""
    parts = [f"{label or 'unknown'}{status}"]
    if event.num_turns is not None:
        parts.append(_count(event.num_turns, "turn"))
    if event.total_cost_usd is not None:
        parts.append(f"${event.total_cost_usd:.4f}")
    if event.duration_ms is not None:
        parts.append(f"{event.duration_ms / 1000:.1f} s")
    line = "result: " + ", ".join(parts)
    detail = "; ".join(event.errors) or (event.text if event.is_error else "")
    return f"{line}: {_one_line(detail)}" if detail else line
