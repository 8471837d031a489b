"""How an agent process is started, as data (docs/BEHAVIOUR.md section 7), and which agent versions are tested."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MARKER = "OVERNIGHT_RUN"
# Set by a Claude Code session for its children; an agent started with them inherited
# would think it is nested inside another session.
NESTED_SESSION_MARKERS = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT")


AGENT_FIX = ("install Claude Code: npm install -g @anthropic-ai/claude-code, "
             "or set agent.command in Settings (config.yaml)")


def agent_argv(command: str, model: str, extra_args: Iterable[str] = (), resume: str | None = None) -> list[str]:
    """The prompt goes on stdin, never argv: an argument is capped at 128 KiB on Linux
    and argv is visible to every user in `ps`. `resume`: the session it continues."""
    return [
        command,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",  # mandatory with stream-json in -p mode
        "--dangerously-skip-permissions",
        "--model",
        model,
        *(("--resume", resume) if resume else ()),
        *extra_args,
    ]


def agent_env(environ: Mapping[str, str], env_remove: Iterable[str], marker: str) -> dict[str, str]:
    """The user's environment minus nested-session markers and `agent.env_remove`, plus the
    OVERNIGHT_RUN marker that every descendant inherits (how stray processes are found)."""
    removed = {*NESTED_SESSION_MARKERS, *env_remove}
    env = {key: value for key, value in environ.items() if key not in removed}
    env[MARKER] = marker
    return env


def run_marker(run_id: str, slug: str) -> str:
    return f"{run_id}/{slug}"


@dataclass(frozen=True, slots=True)
class VersionRange:
    """The oldest and the newest Claude Code version Overnight's tests run against."""

    oldest: str
    newest: str

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """`oldest X` and `newest Y` lines (resources/claude-code-versions.txt); `#` starts a comment."""
        found = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2 and line[:1] != "#")
        return cls(found["oldest"], found["newest"])


def version_verdict(installed: str | None, tested: VersionRange) -> tuple[bool, str]:
    """(fine, words) for the installed CLI's version against the tested range. Overnight runs
    whatever is installed; this only says how far it was tested."""
    span = f"{tested.oldest}–{tested.newest}"
    if installed is None:
        return False, f"version unknown: `--version` did not answer (tested: {span})"
    if _version_key(installed) < _version_key(tested.oldest):
        return False, f"{installed} — older than tested ({span}); update Claude Code (`claude update`)"
    if _version_key(installed) > _version_key(tested.newest):
        return True, f"{installed} — newer than tested ({span}); usually fine"
    return True, f"{installed} — within the tested range ({span})"


def _version_key(version: str) -> tuple[int, ...]:
    """"2.1.197" → (2, 1, 197); a pre-release or build suffix is ignored."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in numbers.group(0).split(".")) if numbers else ()
