"""A run's events as plain text: a compact transcript, and a short label for a tool call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.core.stream import (
    ApiRetry,
    AssistantText,
    Event,
    Init,
    RateLimit,
    Result,
    ToolResult,
    ToolUse,
    Unparsed,
    as_text,
)
from app.core.text import one_line, pluralize, shorten

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
_LINE_KEEP = 300  # an error, a result's detail, an unreadable line


def describe_tool_call(name: str, input: Mapping[str, Any]) -> str:
    """A short label for a tool call with its key argument: "Write /p/notes.txt", "Bash ls"."""
    argument = _key_argument(name, input)
    return f"{name} {argument}" if argument else name


def _key_argument(name: str, input: Mapping[str, Any]) -> str:
    if name in _PATH_TOOLS:
        return _first_line(as_text(input.get("file_path")) or as_text(input.get("notebook_path")))
    if name == "TodoWrite":
        todos = input.get("todos")
        return pluralize(len(todos), "item") if isinstance(todos, list) else ""
    key = _KEY_ARGUMENT.get(name)
    return _first_line(as_text(input.get(key))) if key else ""


def _first_line(text: str, keep: int = _ARGUMENT_KEEP) -> str:
    lines = text.strip().splitlines()
    if not lines:
        return ""
    first = lines[0]
    if len(first) > keep:
        return shorten(first, keep)
    return first + " …" if len(lines) > 1 else first


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
            return f"← error: {one_line(event.content, _LINE_KEEP)}"
        case ToolResult():
            return f"← ok ({pluralize(len(event.content), 'char')})"
        case RateLimit(status="allowed"):
            return ""
        case RateLimit():
            return _render_rate_limit(event)
        case ApiRetry():
            return _render_api_retry(event)
        case Result():
            return _render_result(event)
        case Unparsed():
            return f"unreadable line: {one_line(event.text, _LINE_KEEP)}"


def _render_rate_limit(event: RateLimit) -> str:
    kind = f" ({event.limit_type})" if event.limit_type else ""
    resets = event.stated_reset()
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
        parts.append(pluralize(event.num_turns, "turn"))
    if event.total_cost_usd is not None:
        parts.append(f"${event.total_cost_usd:.4f}")
    if event.duration_ms is not None:
        parts.append(f"{event.duration_ms / 1000:.1f} s")
    line = "result: " + ", ".join(parts)
    detail = "; ".join(event.errors) or (event.text if event.is_error else "")
    return f"{line}: {one_line(detail, _LINE_KEEP)}" if detail else line
