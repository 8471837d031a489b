"""A small fake of Anthropic's servers that the real Claude Code CLI talks to (2.1.197 to 2.1.332,
the versions ./scripts/test runs; where they differ, this says which does what).

What the CLI calls, logged in subscription mode with ``ANTHROPIC_BASE_URL`` pointing here:

- ``HEAD /`` (2.1.197) or ``HEAD /api/hello`` (2.1.332) at start-up: a connectivity probe, answered 200.
- ``POST /v1/messages?beta=true`` with ``"stream": true``, ``Authorization: Bearer <token>`` and
  ``anthropic-beta: claude-code-20250219,oauth-2025-04-20,...``: the agent's turns, answered with
  the real API's server-sent events (``message_start``, ``ping``, ``content_block_start``,
  ``content_block_delta`` with ``text_delta`` or ``input_json_delta``, ``content_block_stop``,
  ``message_delta``, ``message_stop``). Successful answers carry the unified rate-limit headers of
  the usage meter below, so the CLI's ``rate_limit_event`` says ``allowed`` with ``resetsAt``, or
  ``allowed_warning`` past its own thresholds (e.g. five-hour utilization >= 90%).
- Side requests of the CLI's own, recognised by their empty ``tools`` and never scripted: 2.1.197's
  session-title request (only without ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC``; it quotes the
  prompt inside ``<session>`` and asks for JSON per ``output_config.format``; 2.1.332 sends none)
  and the quota check (``"quota"``, ``max_tokens: 1``, not streamed). Any ``"stream": false``
  request gets JSON.
- With ``ANTHROPIC_API_KEY`` in its environment (2.1.197 and 2.1.332 alike) the CLI bills that key:
  its ``system/init`` event says ``"apiKeySource": "ANTHROPIC_API_KEY"``, and its messages requests
  carry ``x-api-key: <key>`` and no ``Authorization`` (the subscription's login is not used). With
  ``ANTHROPIC_AUTH_TOKEN`` instead (2.1.332), the requests carry ``Authorization: Bearer <that
  token>`` while the init event still says ``"apiKeySource": "none"``. Messages are answered
  whichever credential they carry.
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``.
- ``GET /api/oauth/usage``: the subscription usage meter (Overnight's, not the CLI's). It needs
  ``Authorization: Bearer`` and ``anthropic-beta: oauth-2025-04-20``, else 401 as the real service.
Anything else is logged and answered with a JSON 404 in Anthropic's error shape.

Scripts. The prompt is the first text block of the first user message (after the CLI's
``<system-reminder>`` blocks): what the CLI read on stdin. A session continued with ``--resume``
sends the whole earlier conversation, its new prompt joining the last user message as a block of
its own (the first message's own block, when no assistant turn was made), so the script plays on
where it stopped. 2.1.197 first adds a user "Continue from where you left off." and an assistant
"No response requested." of its own when the session ended on a tool result: such a turn is not
counted. Its ``@agent <verb> [json]`` lines are the script. The step to play
is the number of assistant turns already in ``messages``, so conversations are stateless.

- ``text "s"``: a final text block (``end_turn``). When the script runs out: ``text "done"``.
- ``write {"file_path", "content"}``: a ``Write`` tool_use; a relative path is resolved against the
  ``Primary working directory`` of the CLI's system prompt. The CLI writes the file.
- ``bash {"command", ...}``: a ``Bash`` tool_use; extra keys (``run_in_background``) pass through.
- ``tool {"name", "input"}``: any other tool_use.
- ``sleep n``: not a turn; delays the next step's answer by n seconds.
- ``ratelimit {"reset_in": s, "claim": "five_hour"}``: a 429 usage limit. The whole account is
  limited until the reset (every messages request gets the same 429); after it, a re-run of the same
  prompt plays on past this directive. The CLI does not retry it: ``rate_limit_event`` rejected,
  ``result`` with ``is_error`` and ``api_error_status: 429``, exit code 1.
- ``error <status>`` or ``error {"status": 500, "retry": false}``: that status, on every attempt.
  The CLI retries 5xx and 529 ten times (about 3 minutes; ``CLAUDE_CODE_MAX_RETRIES`` changes the
  count) unless the answer says ``x-should-retry: false`` (``"retry": false``; a 529 is retried anyway).
- ``hang``: hold the request open, sending nothing, until ``stop()``.
- ``linger {"seconds": n}``: keeps the CLI process alive about n seconds after a ``result`` line.
  The CLI kills background shells 5 s after its result and holds its result back while a background
  subagent runs, so this plays a real sequence: a background ``sleep 2`` shell and a result; the
  shell's completion wakes the agent, which starts a background subagent (whose own script sleeps n
  seconds) and answers again; the CLI waits for the subagent (at most 10 minutes,
  ``CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS``), then prints the held results and exits.
An unknown verb or an argument that is not JSON is answered 400, which ends the run with an error.

Investigation mode: a prompt with a line that is only an absolute path ending in
``/prds/<digits>-fix-<name>.md`` (or ``/fix-plans/…``, a plan held for approval) plays
``@investigator`` lines instead (the ``@agent`` lines it quotes from the failed PRD are ignored):
``write-fix-plan [{"body": "..."}]`` (the default: a Write of that path with a valid fix-plan PRD,
then ``text "fix plan written"``), ``nothing`` (``text "could not find the cause"``), ``sleep`` and
``hang``. The fix plan's ``title``, ``cwd`` and
``parallelGroup`` come from the ``key: value`` lines around the prompt's ``title: "Fix: ..."`` line
(else from the first such lines anywhere, else from the path and the CLI's cwd), its ``workspace``
and ``base`` from those lines alone, when they ask for them; its default body ends
with ``@agent text "fix applied"``, so running it completes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import posixpath
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

T = TypeVar("T")

OAUTH_BETA = "oauth-2025-04-20"
SYNTHETIC_REPLY = "No response requested."
RATE_LIMIT_MESSAGE = "This request would exceed your account's rate limit. Please try again later."
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})

TURN_VERBS = frozenset({"text", "write", "bash", "tool", "hang"})
GATE_VERBS = frozenset({"sleep", "ratelimit", "error"})
INVESTIGATOR_VERBS = frozenset({"write-fix-plan", "nothing", "sleep", "hang"})
# Short enough to end within the CLI's 5 s post-result grace, so its completion wakes the agent.
LINGER_WAKE_SECONDS = 2

_DIRECTIVE = re.compile(r"^\s*(@agent|@investigator)\s+(\S+)[ \t]*(.*?)\s*$")
_FIX_PLAN_PATH = re.compile(r"^\s*(/.*/(?:prds|fix-plans)/(\d+)-fix-([A-Za-z0-9._-]+)\.md)\s*$")
_KEY_VALUE = re.compile(r"^\s*[A-Za-z][\w-]*:(\s|$)")
_WORKING_DIRECTORY = re.compile(r"Primary working directory: (.+)")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES = {
    429: "Number of concurrent connections has exceeded your rate limit.",
    500: "Internal server error",
    503: "Service unavailable",
    529: "Overloaded",
}
_ID_ALPHABET = string.ascii_letters + string.digits


class ScriptError(ValueError):
    """A directive line the fake cannot play."""


# --- the script ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    verb: str
    arg: Any = None
    index: int = 0


DONE = Directive("text", "done", -1)


@dataclass(frozen=True)
class Step:
    """One assistant turn and the gates (sleep, ratelimit, error) played before it."""

    turn: Directive
    gates: tuple[Directive, ...] = ()


def parse_directives(prompt: str, tag: str) -> list[Directive]:
    directives = []
    for line in prompt.splitlines():
        match = _DIRECTIVE.match(line)
        if not match or match[1] != tag:
            continue
        try:
            arg = json.loads(match[3]) if match[3] else None
        except json.JSONDecodeError as exc:
            raise ScriptError(f"{line.strip()!r}: the argument is not JSON ({exc})") from None
        directives.append(Directive(match[2], arg, len(directives)))
    return directives


def plan(directives: list[Directive]) -> list[Step]:
    steps: list[Step] = []
    gates: list[Directive] = []
    for directive in directives:
        if directive.verb in GATE_VERBS:
            gates.append(directive)
        else:
            steps.append(Step(directive, tuple(gates)))
            gates = []
    if gates:
        steps.append(Step(DONE, tuple(gates)))
    return steps


def agent_steps(directives: list[Directive]) -> list[Step]:
    expanded: list[Directive] = []
    for directive in directives:
        if directive.verb == "linger":
            expanded += linger_turns(directive)
        elif directive.verb in TURN_VERBS | GATE_VERBS:
            expanded.append(directive)
        else:
            raise ScriptError(f"unknown @agent verb {directive.verb!r}")
    return plan(expanded)


def linger_turns(directive: Directive) -> list[Directive]:
    seconds = float((directive.arg or {}).get("seconds", 600))
    wake = {"command": f"sleep {LINGER_WAKE_SECONDS}", "run_in_background": True, "description": "linger"}
    subagent = {
        "description": "linger",
        "prompt": f'@agent sleep {seconds:g}\n@agent text "lingered {seconds:g} s"\n',
        "subagent_type": "general-purpose",
        "run_in_background": True,
    }
    return [
        Directive("bash", wake, directive.index),
        Directive("text", "done", directive.index),
        Directive("tool", {"name": "Agent", "input": subagent}, directive.index),
        Directive("text", "still working in the background", directive.index),
    ]


def investigator_steps(directives: list[Directive]) -> list[Step]:
    expanded: list[Directive] = []
    for directive in directives or [Directive("write-fix-plan")]:
        if directive.verb not in INVESTIGATOR_VERBS:
            raise ScriptError(f"unknown @investigator verb {directive.verb!r}")
        if directive.verb == "write-fix-plan":
            expanded += [directive, Directive("text", "fix plan written", directive.index)]
        elif directive.verb == "nothing":
            expanded.append(Directive("text", "could not find the cause", directive.index))
        else:
            expanded.append(directive)
    return plan(expanded)


@dataclass(frozen=True)
class Conversation:
    """What one messages request says about the session it belongs to."""

    prompt: str
    cwd: str | None
    assistant_turns: int
    fix_plan_path: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Conversation:
        messages = body.get("messages") or []
        prompt = next((_user_text(m) for m in messages if m.get("role") == "user"), "")
        return cls(
            prompt=prompt,
            cwd=_working_directory(body),
            assistant_turns=sum(1 for m in messages if m.get("role") == "assistant" and not _synthetic(m)),
            fix_plan_path=_fix_plan_path(prompt),
        )

    def directive_key(self, directive: Directive) -> str:
        # A resumed session's stored prompt may end with one more newline than it had.
        return f"{hashlib.sha256(self.prompt.strip().encode()).hexdigest()}:{directive.index}"

    def step(self) -> Step:
        if self.fix_plan_path:
            steps = investigator_steps(parse_directives(self.prompt, "@investigator"))
        else:
            steps = agent_steps(parse_directives(self.prompt, "@agent"))
        return steps[self.assistant_turns] if self.assistant_turns < len(steps) else Step(DONE)


def _user_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
    return next((t for t in texts if not t.startswith("<system-reminder>")), "")


def _synthetic(message: dict[str, Any]) -> bool:
    """An assistant message the CLI wrote itself, never the model's (2.1.197 adds one when it resumes a
    session cut short after a tool result)."""
    content = message.get("content")
    texts = [content] if isinstance(content, str) else [b.get("text") for b in content or []]
    return texts == [SYNTHETIC_REPLY]


def _working_directory(body: dict[str, Any]) -> str | None:
    """2.1.197 states the cwd in the system prompt; 2.1.332 in a `system` message of the conversation."""
    sources = [body.get("system")] + [m.get("content") for m in body.get("messages") or [] if m.get("role") == "system"]
    for source in sources:
        blocks = [source] if isinstance(source, str) else [b.get("text", "") for b in source or []]
        for text in blocks:
            if match := _WORKING_DIRECTORY.search(text):
                return match[1].strip()
    return None


def _fix_plan_path(prompt: str) -> str | None:
    return next((m[1] for line in prompt.splitlines() if (m := _FIX_PLAN_PATH.match(line))), None)


# --- fix plans -----------------------------------------------------------------------------------


def fix_plan_markdown(prompt: str, path: str, cwd: str | None, body: str | None = None) -> str:
    """A valid fix-plan PRD with the frontmatter the investigation prompt asks for."""
    match = _FIX_PLAN_PATH.match(path)
    if not match:
        raise ScriptError(f"{path!r} is not a fix-plan path")
    block = _fix_frontmatter_block(prompt)
    sources = [block, prompt]
    title = _prompt_title(sources) or match[3]
    if "<" in title:  # the prompt's template placeholder: fill it in, as a model would
        failed = re.search(r"^\s*-\s*Title:\s*(.+?)\s*$", prompt, re.MULTILINE)
        title = f"Fix: {failed[1] if failed else match[3]}"
    frontmatter = [
        f"title: {json.dumps(title if title.startswith('Fix:') else f'Fix: {title}', ensure_ascii=False)}",
        f"cwd: {_prompt_value(sources, 'cwd', r'.+') or cwd or '~'}",
        f"parallelGroup: {_prompt_value(sources, 'parallelGroup', r'-?[0-9]+') or int(match[2])}",
        "estimateMinutes: 5",
    ] + [f"{key}: {value}" for key in ("workspace", "base") if (value := _prompt_value([block], key, r"\S+"))]
    return "---\n" + "\n".join(frontmatter) + "\n---\n\n" + (body or _default_fix_body(match[3]))


def _fix_frontmatter_block(prompt: str) -> str:
    """The run of ``key: value`` lines around ``title: "Fix: ..."``: the frontmatter asked for."""
    lines = prompt.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"\s*title:\s*[\"']?Fix:", line):
            start, end = index, index + 1
            while start > 0 and _KEY_VALUE.match(lines[start - 1]):
                start -= 1
            while end < len(lines) and _KEY_VALUE.match(lines[end]):
                end += 1
            return "\n".join(lines[start:end])
    return ""


def _prompt_value(sources: list[str], key: str, pattern: str) -> str | None:
    for text in sources:
        if match := re.search(rf"^\s*(?:[-*]\s+)?{key}:\s*({pattern}?)\s*$", text, re.MULTILINE):
            return match[1]
    return None


def _prompt_title(sources: list[str]) -> str | None:
    value = _prompt_value(sources, "title", r".+")
    return _unquote(value) if value else None


def _unquote(value: str) -> str:
    if value.startswith('"'):
        try:
            return str(json.loads(value))
        except json.JSONDecodeError:
            return value.strip('"')
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _default_fix_body(name: str) -> str:
    return (
        f"## Root cause\n\nThe run of `{name}` failed; the scripted investigation found why.\n\n"
        "## Steps\n\n1. Apply the fix.\n\n"
        "## Verification\n\nThe agent reports that the fix is applied.\n\n"
        '@agent text "fix applied"\n'
    )


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: list[tuple[str, dict[str, Any]]] | None = None
    delay: float = 0.0
    hang: bool = False


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def error_body(status: int, message: str) -> bytes:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": new_id("req_011C")}
    ).encode()


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(document).encode())


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, error_body(status, message))


def scripted_error(arg: Any) -> Reply:
    status, retry = (int(arg["status"]), bool(arg.get("retry", True))) if isinstance(arg, dict) else (int(arg), True)
    headers = {"request-id": new_id("req_011C")} | ({} if retry else {"x-should-retry": "false"})
    return error_reply(status, _ERROR_MESSAGES.get(status, "Scripted error"), headers)


def tool_use(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": new_id("toolu_01"), "name": name, "input": tool_input}


def turn_content(conversation: Conversation, turn: Directive) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason of one scripted assistant turn."""
    arg = turn.arg if isinstance(turn.arg, dict) else {}
    if turn.verb == "text":
        return [{"type": "text", "text": str(turn.arg if turn.arg is not None else "done")}], "end_turn"
    if turn.verb == "write":
        path = posixpath.join(conversation.cwd or "", arg["file_path"])
        return [tool_use("Write", {**arg, "file_path": path})], "tool_use"
    if turn.verb == "bash":
        return [tool_use("Bash", {"description": "scripted", **arg})], "tool_use"
    if turn.verb == "tool":
        return [tool_use(arg["name"], arg.get("input") or {})], "tool_use"
    if turn.verb == "write-fix-plan" and conversation.fix_plan_path:
        text = fix_plan_markdown(conversation.prompt, conversation.fix_plan_path, conversation.cwd, arg.get("body"))
        return [tool_use("Write", {"file_path": conversation.fix_plan_path, "content": text})], "tool_use"
    raise ScriptError(f"cannot play {turn.verb!r} here")


def side_request_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    output_format = (body.get("output_config") or {}).get("format") or {}
    if output_format.get("type") == "json_schema":
        return [{"type": "text", "text": json.dumps(_schema_example(output_format.get("schema") or {}))}]
    return [{"type": "text", "text": "ok"}]


def _schema_example(schema: dict[str, Any]) -> Any:
    if schema.get("type") == "object":
        return {name: _schema_example(sub) for name, sub in (schema.get("properties") or {}).items()}
    return {"string": "Scripted session", "array": [], "boolean": False}.get(schema.get("type"), 0)


def message_document(model: str, content: list[dict[str, Any]], stop: str, input_tokens: int) -> dict[str, Any]:
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": tokens(json.dumps(content)),
        "service_tier": "standard",
    }
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def sse_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event stream the real API sends for ``message``."""
    opening = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": opening}), ("ping", {"type": "ping"})]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": message["usage"]}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _chunks(block["text"])]
    else:
        start = {**block, "input": {}}
        parts = ["", *_chunks(json.dumps(block["input"]))]
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in parts]
    events = [("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _chunks(text: str, size: int = 48) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, raw bytes, or None
    at: float

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in self.headers.items()}
        return f"RecordedRequest({self.method} {self.path}, headers={shown})"


@dataclass(frozen=True)
class Limit:
    until: int
    claim: str


@dataclass(frozen=True)
class UsageState:
    five_hour: float | None = 10.0
    seven_day: float | None = 20.0
    five_hour_resets_at: datetime | str | None = None  # None: three hours from each request
    seven_day_resets_at: datetime | str | None = None  # None: three days from each request
    others: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageFailure:
    status: int
    retry_after: float | None = None
    body: bytes | None = None


def _window(utilization: float | None, resets_at: datetime | str) -> dict[str, Any] | None:
    if utilization is None:
        return None
    iso = resets_at if isinstance(resets_at, str) else resets_at.astimezone(UTC).isoformat()
    return {"utilization": float(utilization), "resets_at": iso}


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


# --- the server ----------------------------------------------------------------------------------


class FakeAnthropic:
    """A threaded HTTP server on 127.0.0.1 that plays the scripts found in the prompts."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._limit: Limit | None = None
        self._tripped: dict[str, int] = {}
        self._usage = UsageState()
        self._usage_failure: UsageFailure | None = None
        self._usage_delay = 0.0
        self._server: _Server | None = None

    # lifecycle

    def start(self) -> FakeAnthropic:
        self._stopping.clear()
        self._server = _Server(self)
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-anthropic", daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def usage_url(self) -> str:
        return self.url + "/api/oauth/usage"

    # observation

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """The first truthy value of ``predicate``, re-checked on every request and every 50 ms."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            with self._changed:
                self._changed.wait(min(remaining, 0.05))
        return value

    # controls

    def limit_until(self, epoch_seconds: float, claim: str = "five_hour") -> None:
        with self._lock:
            self._limit = Limit(int(epoch_seconds), claim)

    @property
    def limited_until(self) -> int | None:
        limit = self._active_limit()
        return limit.until if limit else None

    def set_usage(
        self,
        *,
        five_hour: float | object | None = ...,
        seven_day: float | object | None = ...,
        five_hour_resets_at: datetime | str | object | None = ...,
        seven_day_resets_at: datetime | str | object | None = ...,
        **windows: dict[str, Any] | None,
    ) -> None:
        """Change the meter. Omitted arguments keep their value; ``five_hour=None`` makes that window
        null; a ``*_resets_at`` of None means "three hours/days from now"; ``windows`` sets other
        keys verbatim (``seven_day_opus={"utilization": 5.0, "resets_at": "..."}``)."""
        given = {
            "five_hour": five_hour,
            "seven_day": seven_day,
            "five_hour_resets_at": five_hour_resets_at,
            "seven_day_resets_at": seven_day_resets_at,
        }
        with self._lock:
            changes = {k: v for k, v in given.items() if v is not ...}
            self._usage = replace(self._usage, **changes, others={**self._usage.others, **windows})

    def set_usage_failure(self, status: int, retry_after: float | None = None, body: bytes | None = None) -> None:
        """Answer the usage meter with ``status`` (and ``Retry-After``, and ``body`` instead of an
        Anthropic error body) until ``clear_usage_failure()``; ``status=200, body=b"x"`` is bad JSON."""
        with self._lock:
            self._usage_failure = UsageFailure(status, retry_after, body)

    def clear_usage_failure(self) -> None:
        with self._lock:
            self._usage_failure = None

    def set_usage_delay(self, seconds: float) -> None:
        with self._lock:
            self._usage_delay = seconds

    # answers

    def _record(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _reply(self, request: RecordedRequest) -> Reply:
        route = request.route
        if request.method == "POST" and route == "/v1/messages":
            return self._messages_reply(request.body if isinstance(request.body, dict) else {})
        if request.method == "POST" and route == "/v1/messages/count_tokens":
            return json_reply(200, {"input_tokens": tokens(json.dumps(request.body))})
        if request.method == "GET" and route == "/api/oauth/usage":
            return self._usage_reply(request)
        if request.method == "HEAD" and route in ("/", "/api/hello"):
            return Reply(200, {})
        log.warning("fake Anthropic: unhandled %s %s", request.method, request.path)
        return error_reply(404, "Not Found")

    def _messages_reply(self, body: dict[str, Any]) -> Reply:
        if limit := self._active_limit():
            return self._limit_reply(limit)
        if not body.get("tools"):
            return self._message_reply(body, side_request_content(body), "end_turn")
        conversation = Conversation.from_body(body)
        try:
            return self._scripted_reply(conversation, conversation.step(), body)
        except (ScriptError, KeyError, TypeError, ValueError) as exc:
            return error_reply(400, f"fake Anthropic cannot play this script: {exc!r}")

    def _scripted_reply(self, conversation: Conversation, step: Step, body: dict[str, Any]) -> Reply:
        delay = 0.0
        for gate in step.gates:
            if gate.verb == "sleep":
                delay += float(gate.arg)
            elif gate.verb == "error":
                return replace(scripted_error(gate.arg), delay=delay)
            elif limit := self._trip(conversation.directive_key(gate), gate.arg or {}):
                return replace(self._limit_reply(limit), delay=delay)
        if step.turn.verb == "hang":
            return Reply(200, hang=True, delay=delay)
        return replace(self._message_reply(body, *turn_content(conversation, step.turn)), delay=delay)

    def _message_reply(self, body: dict[str, Any], content: list[dict[str, Any]], stop: str) -> Reply:
        model = str(body.get("model") or "claude-sonnet-4-5")
        message = message_document(model, content, stop, tokens(json.dumps(body)))
        headers = {"request-id": new_id("req_011C"), **self._allowed_headers()}
        if body.get("stream"):
            return Reply(200, headers, events=sse_events(message))
        return json_reply(200, message, headers)

    def _trip(self, key: str, arg: dict[str, Any]) -> Limit | None:
        """The limit a ratelimit directive imposes now, or None once its reset has passed."""
        claim = str(arg.get("claim", "five_hour"))
        with self._lock:
            until = self._tripped.get(key)
            if until is not None and time.time() >= until:
                return None
            if until is None:
                until = self._tripped[key] = math.ceil(time.time() + float(arg.get("reset_in", 3600)))
                self._limit = Limit(until, claim)
            return Limit(until, claim)

    def _active_limit(self) -> Limit | None:
        with self._lock:
            if self._limit and time.time() < self._limit.until:
                return self._limit
            return None

    def _limit_reply(self, limit: Limit) -> Reply:
        headers = {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(limit.until),
            "anthropic-ratelimit-unified-representative-claim": limit.claim,
            "request-id": new_id("req_011C"),
        }
        return error_reply(429, RATE_LIMIT_MESSAGE, headers)

    def _allowed_headers(self) -> dict[str, str]:
        usage = self._usage_document()
        headers = {"anthropic-ratelimit-unified-status": "allowed"}
        for claim, abbrev in (("five_hour", "5h"), ("seven_day", "7d")):
            window = usage.get(claim)
            if not window or not window.get("resets_at"):
                continue
            reset = str(_epoch(window["resets_at"]))
            headers[f"anthropic-ratelimit-unified-{abbrev}-status"] = "allowed"
            headers[f"anthropic-ratelimit-unified-{abbrev}-reset"] = reset
            headers[f"anthropic-ratelimit-unified-{abbrev}-utilization"] = f"{window['utilization'] / 100:g}"
            headers.setdefault("anthropic-ratelimit-unified-reset", reset)
            headers.setdefault("anthropic-ratelimit-unified-representative-claim", claim)
        return headers

    def _usage_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            failure, delay = self._usage_failure, self._usage_delay
        if failure:
            headers = {"Content-Type": "application/json"}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            body = failure.body if failure.body is not None else error_body(failure.status, "Scripted failure")
            return Reply(failure.status, headers, body, delay=delay)
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return replace(error_reply(401, "Invalid bearer token"), delay=delay)
        if OAUTH_BETA not in request.headers.get("anthropic-beta", ""):
            return replace(error_reply(401, "OAuth authentication is currently not supported."), delay=delay)
        return replace(json_reply(200, self._usage_document()), delay=delay)

    def _usage_document(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self._lock:
            usage, limit = self._usage, self._active_limit()
        document = {
            "five_hour": _window(usage.five_hour, usage.five_hour_resets_at or now + timedelta(hours=3)),
            "seven_day": _window(usage.seven_day, usage.seven_day_resets_at or now + timedelta(days=3)),
            "seven_day_oauth_apps": None,
            "seven_day_opus": None,
            "seven_day_sonnet": None,
            "cinder_cove": None,
            "extra_usage": None,
            "limits": [],
            **usage.others,
        }
        if limit and limit.claim in document:
            # A limited account shows the limiting window full until its reset.
            document[limit.claim] = _window(100.0, datetime.fromtimestamp(limit.until, UTC))
        return document


# --- HTTP plumbing -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads still reading from kept-alive connections."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake Anthropic: connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        fake = self.server.fake
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=_parse_body(self._read_body()),
            at=time.time(),
        )
        fake._record(request)
        try:
            reply = fake._reply(request)
        except Exception:
            log.exception("fake Anthropic: failed to answer %s %s", request.method, request.path)
            reply = error_reply(500, "fake Anthropic failed")
        self._send(reply, fake._stopping)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._read_chunks())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunks(self) -> Iterator[bytes]:
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            yield self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline().strip():
            pass

    def _send(self, reply: Reply, stopping: threading.Event) -> None:
        if reply.hang or (reply.delay and stopping.wait(reply.delay)):
            stopping.wait()
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.events is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            return
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for name, data in reply.events:
            self._write_chunk(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake Anthropic: " + format, *args)


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw
