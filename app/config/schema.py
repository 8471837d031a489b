"""The settings of config.yaml (docs/BEHAVIOUR.md section 10): frozen dataclasses with their
defaults, and the rules every value must meet.

A bad value is a `ConfigError` carrying its dotted key, the value and what is allowed, so the
file reader, the settings dialog and `overnight doctor` all say the same thing about it. Reading
and writing the file itself is `app.config.file`.
"""

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal, TypeGuard
from urllib.parse import urlsplit

from app.core.gate import GatePolicy
from app.core.text import shorten
from app.core.workspace import BRANCH_PREFIX, DEFAULT_INTEGRATION_BRANCH, MODES, is_branch_name

CONFIG_FILE_NAME = "config.yaml"
MAX_CONCURRENCY_ENV = "OVERNIGHT_MAX_CONCURRENCY"
CONCURRENCY_RANGE = (1, 32)
FIRE_POLICIES = ("when-available", "on-reset", "manual")
WHEN_UNKNOWN = ("fire", "hold")
NOTIFY_FORMATS = ("ntfy", "json")

FirePolicy = Literal["when-available", "on-reset", "manual"]
WhenUnknown = Literal["fire", "hold"]
WorkspaceMode = Literal["shared", "worktree"]
NotifyFormat = Literal["ntfy", "json"]


@dataclass(frozen=True)
class AgentConfig:
    command: str = "claude"
    model: str = "sonnet"
    extra_args: tuple[str, ...] = ()
    env_remove: tuple[str, ...] = ()
    resume: bool = True  # a run cut short (usage limit, restart) continues its session


@dataclass(frozen=True)
class SpendConfig:
    allow_api_billing: bool = False  # runs billed per token (an API key) may go on
    max_usd_per_day: float = 0  # with API billing allowed: the day's spend that pauses the queue; 0 = no limit


@dataclass(frozen=True)
class InvestigationConfig:
    enabled: bool = True
    model: str = "opus"
    max_concurrent: int = 1
    max_duration: float = 1800
    auto_run: bool = True  # False: fix plans wait under fix-plans/ until the user approves them


@dataclass(frozen=True)
class UsageConfig:
    url: str = "https://api.anthropic.com/api/oauth/usage"
    poll_seconds: float = 120
    resume_margin: float = 60
    when_unknown: WhenUnknown = "fire"


@dataclass(frozen=True)
class WatchdogConfig:
    post_result_grace: float = 90
    kill_after: float = 30
    idle: float = 1200
    max_duration: float = 14400


@dataclass(frozen=True)
class WorkspaceConfig:
    mode: WorkspaceMode = "shared"  # where PRDs without `workspace` run
    branch: str = DEFAULT_INTEGRATION_BRANCH  # each repo's integration branch
    verify: tuple[str, ...] = ()  # shell commands that check a completed run; a PRD's `verify` replaces them
    verify_timeout: float = 900  # seconds one verify command may take before its tree is killed


@dataclass(frozen=True)
class NotifyConfig:
    url: str = ""  # empty: no notifications
    format: NotifyFormat = "ntfy"


@dataclass(frozen=True)
class Config:
    default_cwd: str | None = None
    concurrency_cap: int = 4
    fire_policy: FirePolicy = "when-available"
    utilization_threshold: float = 90
    weekly_threshold: float = 98
    offset_minutes: int = 15
    keep_finished_days: int = 7
    retry_interrupted: int = 1
    agent: AgentConfig = field(default_factory=AgentConfig)
    investigation: InvestigationConfig = field(default_factory=InvestigationConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    spend: SpendConfig = field(default_factory=SpendConfig)

    def resolved_default_cwd(self) -> str:
        """The folder a PRD without `cwd` runs in: absolute, `~` expanded (None is the user's home)."""
        return os.path.abspath(os.path.expanduser(self.default_cwd or "~"))


Problem = Literal["bad_value", "unknown_key", "duplicate_key", "unreadable"]


@dataclass(frozen=True)
class ConfigError:
    """One problem in config.yaml. `key` is dotted ("watchdog.idle"); "" is the file as a whole."""

    key: str
    value: object
    allowed: str
    line: int | None = None
    problem: Problem = "bad_value"
    suggestion: str | None = None

    def message(self) -> str:
        return f"{CONFIG_FILE_NAME}: {self.describe()}"

    def describe(self) -> str:
        """The message without the file name."""
        where = f" (line {self.line})" if self.line is not None else ""
        return self._problem_and_fix() + where

    def _problem_and_fix(self) -> str:
        subject = self.key or "the file"
        if self.problem == "unreadable":
            return f"{self.value}; allowed: {self.allowed}"
        if self.problem == "duplicate_key":
            return f"{subject} is set more than once; allowed: {self.allowed}"
        if self.problem == "unknown_key" and self.suggestion:
            return f"{subject} is not a setting; did you mean {self.suggestion}?"
        if self.problem == "unknown_key":
            return f"{subject} is not a setting; allowed: {self.allowed}"
        return f"{subject} is {_show(self.value)}; allowed: {self.allowed}"


@dataclass(frozen=True)
class _Rule:
    allowed: str
    accepts: Callable[[object], bool]
    convert: Callable[[object], object] = lambda value: value
    secret: bool = False  # a bad value is not repeated in the message: it may hold a password or token


class _Hidden:
    """Stands for a secret value in a ConfigError's message."""

    def __repr__(self) -> str:
        return "a value not shown here (it may hold a secret)"


@dataclass(frozen=True)
class _Section:
    build: type
    rules: dict[str, _Rule]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    # A bool is an int to Python, never a number to a config file's reader.
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _integer(low: int, high: int | None = None, unit: str = "an integer") -> _Rule:
    def accepts(value: object) -> bool:
        return _is_int(value) and value >= low and (high is None or value <= high)

    return _Rule(f"{unit} from {low} to {high}" if high is not None else f"{unit} >= {low}", accepts)


def _seconds_at_least(minimum: int) -> _Rule:
    return _Rule(f"a number of seconds >= {minimum}", lambda v: _is_number(v) and v >= minimum)


def _seconds_above_zero() -> _Rule:
    return _Rule("a number of seconds > 0", lambda v: _is_number(v) and v > 0)


def _flag() -> _Rule:
    return _Rule("true or false", lambda v: isinstance(v, bool))


def _percent() -> _Rule:
    return _Rule("a percentage from 0 to 100", lambda v: _is_number(v) and 0 <= v <= 100)


def _one_of(choices: tuple[str, ...]) -> _Rule:
    return _Rule(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices)


def _text(allowed: str) -> _Rule:
    return _Rule(allowed, lambda v: isinstance(v, str) and v.strip() != "" and "\0" not in v)


def _string_list(allowed: str, accepts_item: Callable[[str], bool]) -> _Rule:
    def accepts(value: object) -> bool:
        return isinstance(value, list | tuple) and all(isinstance(i, str) and accepts_item(i) for i in value)

    return _Rule(allowed, accepts, convert=lambda value: tuple(value) if isinstance(value, list | tuple) else value)


def _is_cwd(value: object) -> bool:
    return value is None or (
        isinstance(value, str) and "\0" not in value and (value.startswith("~") or os.path.isabs(value))
    )


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_SCHEMA: dict[str, _Rule | _Section] = {
    "default_cwd": _Rule("~ (your home folder), or a folder path starting with / or ~", _is_cwd),
    "concurrency_cap": _integer(*CONCURRENCY_RANGE),
    "fire_policy": _one_of(FIRE_POLICIES),
    "utilization_threshold": _percent(),
    "weekly_threshold": _percent(),
    "offset_minutes": _integer(0, unit="a whole number of minutes"),
    "keep_finished_days": _integer(0, unit="a whole number of days"),
    "retry_interrupted": _integer(0),
    "agent": _Section(AgentConfig, {
        "command": _text("a program name on PATH or an absolute path, not empty"),
        "model": _text("a model alias or name, e.g. sonnet"),
        "extra_args": _string_list('a list of strings, e.g. [--max-turns, "200"]', lambda arg: "\0" not in arg),
        "env_remove": _string_list(
            "a list of environment variable names, e.g. [ANTHROPIC_API_KEY]",
            lambda name: name != "" and "=" not in name and "\0" not in name,
        ),
        "resume": _flag(),
    }),
    "investigation": _Section(InvestigationConfig, {
        "enabled": _flag(),
        "model": _text("a model alias or name, e.g. opus"),
        "max_concurrent": _integer(1),
        "max_duration": _seconds_above_zero(),
        "auto_run": _flag(),
    }),
    "usage": _Section(UsageConfig, {
        "url": _Rule("an http:// or https:// URL", _is_http_url),
        "poll_seconds": _seconds_at_least(60),
        "resume_margin": _seconds_at_least(0),
        "when_unknown": _one_of(WHEN_UNKNOWN),
    }),
    "watchdog": _Section(WatchdogConfig, {
        name: _seconds_above_zero() for name in ("post_result_grace", "kill_after", "idle", "max_duration")
    }),
    "workspace": _Section(WorkspaceConfig, {
        "mode": _one_of(MODES),
        "branch": _Rule("a branch name git accepts under overnight/, e.g. overnight/queue",
                        lambda v: isinstance(v, str) and v.startswith(BRANCH_PREFIX) and is_branch_name(v)),
        "verify": _string_list('a list of shell commands, e.g. ["make test"]',
                               lambda cmd: cmd.strip() != "" and "\0" not in cmd),
        "verify_timeout": _seconds_above_zero(),
    }),
    "notify": _Section(NotifyConfig, {
        "url": _Rule('empty (no notifications), or an http:// or https:// URL, e.g. https://ntfy.sh/your-topic',
                     lambda v: v == "" or _is_http_url(v), secret=True),
        "format": _one_of(NOTIFY_FORMATS),
    }),
    "spend": _Section(SpendConfig, {
        "allow_api_billing": _flag(),
        "max_usd_per_day": _Rule("an amount in US dollars >= 0 (0 = no limit)", lambda v: _is_number(v) and v >= 0),
    }),
}

ALL_KEYS: tuple[str, ...] = tuple(
    f"{name}.{key}" if isinstance(entry, _Section) else name
    for name, entry in _SCHEMA.items()
    for key in (entry.rules if isinstance(entry, _Section) else (name,))
)


def config_to_mapping(config: Config) -> dict[str, object]:
    """The settings as plain YAML-ready values (nested dicts, lists), in config.yaml order."""
    return _as_mapping(config)


def _as_mapping(settings: object) -> dict[str, object]:
    return {item.name: _plain(getattr(settings, item.name)) for item in fields(settings)}  # type: ignore[arg-type]


def _plain(value: object) -> object:
    if is_dataclass(value):
        return _as_mapping(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def config_from_mapping(mapping: object) -> tuple[Config | None, list[ConfigError]]:
    """Validate edited settings (missing keys take their defaults): a Config, or every error found."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        return None, [ConfigError("", mapping, "settings as key: value lines, e.g. concurrency_cap: 4")]
    errors: list[ConfigError] = []
    values = _read(mapping, _SCHEMA, "", errors)
    return (None, errors) if errors else (Config(**values), [])


def _read(
    mapping: Mapping[object, object], schema: Mapping[str, _Rule | _Section], prefix: str, errors: list[ConfigError]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in mapping.items():
        name = str(key)
        dotted = prefix + name
        entry = schema.get(name) if isinstance(key, str) else None
        if entry is None:
            errors.append(_unknown_key(dotted, raw, schema, prefix))
        elif isinstance(entry, _Section):
            section = _read_section(dotted, raw, entry, errors)
            if section is not None:
                values[name] = section
        elif entry.accepts(raw):
            values[name] = entry.convert(raw)
        else:
            errors.append(ConfigError(dotted, _Hidden() if entry.secret else raw, entry.allowed))
    return values


def _read_section(dotted: str, raw: object, section: _Section, errors: list[ConfigError]) -> object | None:
    if raw is None:  # a heading whose keys are all commented out
        built: object = section.build()
        return built
    if not isinstance(raw, Mapping):
        errors.append(ConfigError(dotted, raw, f"a section with {', '.join(section.rules)}"))
        return None
    built = section.build(**_read(raw, section.rules, dotted + ".", errors))
    return built


def _unknown_key(dotted: str, raw: object, schema: Mapping[str, object], prefix: str) -> ConfigError:
    suggestion = _suggest(dotted, dotted.removeprefix(prefix), list(schema), prefix)
    return ConfigError(dotted, raw, ", ".join(schema), problem="unknown_key", suggestion=suggestion)


def _suggest(dotted: str, name: str, siblings: list[str], prefix: str) -> str | None:
    """The setting a typo or a misplaced key most likely meant: a sibling, then the same name elsewhere."""
    if dotted in ALL_KEYS:  # written flat as "agent.model: x"
        section, key = dotted.split(".", 1)
        return f"{section}: with {key}: indented below it"
    near = difflib.get_close_matches(name, siblings, n=1)
    if near:
        return prefix + near[0]
    same_name = [key for key in ALL_KEYS if key.rsplit(".", 1)[-1] == name]
    near = same_name or difflib.get_close_matches(dotted, ALL_KEYS, n=1)
    return near[0] if near else None


def gate_policy(config: Config) -> GatePolicy:
    """The settings the gate decides with."""
    return GatePolicy(
        fire_policy=config.fire_policy,
        utilization_threshold=config.utilization_threshold,
        weekly_threshold=config.weekly_threshold,
        offset_minutes=config.offset_minutes,
        when_unknown=config.usage.when_unknown,
    )


def effective_concurrency_cap(config: Config, environ: Mapping[str, str] = os.environ) -> int:
    """OVERNIGHT_MAX_CONCURRENCY, clamped to 1-32, overrides concurrency_cap; a non-integer is ignored."""
    override = _env_integer(environ)
    return config.concurrency_cap if override is None else _clamp_concurrency(override)


def concurrency_env_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """What is wrong with OVERNIGHT_MAX_CONCURRENCY (ignored or clamped), or None."""
    raw = environ.get(MAX_CONCURRENCY_ENV, "").strip()
    override = _env_integer(environ)
    if raw and override is None:
        fallback = f"concurrency_cap from {CONFIG_FILE_NAME} applies"
        return f"{MAX_CONCURRENCY_ENV} is {raw!r}, not an integer: ignored, {fallback}"
    if override is not None and override != _clamp_concurrency(override):
        low, high = CONCURRENCY_RANGE
        return f"{MAX_CONCURRENCY_ENV} is {override}: clamped to {_clamp_concurrency(override)} (allowed: {low}-{high})"
    return None


def _env_integer(environ: Mapping[str, str]) -> int | None:
    raw = environ.get(MAX_CONCURRENCY_ENV, "").strip()
    return int(raw) if re.fullmatch(r"[+-]?[0-9]+", raw) else None


def _clamp_concurrency(value: int) -> int:
    low, high = CONCURRENCY_RANGE
    return min(max(value, low), high)


def _show(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    return shorten(repr(value), 80, "...")
