"""How an agent process is started, as data (SPEC section 7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MARKER = "OVERNIGHT_RUN"
# Set by a Claude Code session for its children; an agent started with them inherited
# would think it is nested inside another session.
NESTED_SESSION_MARKERS = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT")


def agent_argv(command: str, model: str, extra_args: Iterable[str] = ()) -> list[str]:
    """The prompt goes on stdin, never argv: an argument is capped at 128 KiB on Linux
    and argv is visible to every user in `ps`."""
    return [
        command,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",  # mandatory with stream-json in -p mode
        "--dangerously-skip-permissions",
        "--model",
        model,
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
