"""Verified outcomes (docs/BEHAVIOUR.md section 13): which commands check a completed run, what
their results say, and the words for them. The engine runs the commands (engine/verify.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

VERIFYING = "verifying"  # the reason a running job shows while its verify commands run


@dataclass(frozen=True, slots=True)
class VerifyCommand:
    """One verify command as it ran; `exit_code` None: it was killed at the verify timeout."""

    cmd: str
    exit_code: int | None
    duration_ms: int

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The verify commands of one run, in order, up to the first that failed."""

    ok: bool
    commands: tuple[VerifyCommand, ...]
    log_path: str

    @property
    def failed(self) -> VerifyCommand | None:
        return next((command for command in self.commands if not command.passed), None)


def commands_for(prd_verify: Sequence[str] | None, config_verify: Sequence[str]) -> tuple[str, ...]:
    """The commands a job's run is verified with: the PRD's list replaces the config's."""
    return tuple(config_verify if prd_verify is None else prd_verify)


def result_of(commands: Sequence[VerifyCommand], log_path: str) -> VerifyResult:
    return VerifyResult(ok=all(command.passed for command in commands), commands=tuple(commands),
                        log_path=log_path)


def failure_reason(command: VerifyCommand) -> str:
    """`verify failed: `make test` exited 2`, or `… timed out after 900 s`."""
    if command.exit_code is None:
        return f"verify failed: `{command.cmd}` timed out after {round(command.duration_ms / 1000)} s"
    return f"verify failed: `{command.cmd}` exited {command.exit_code}"


def describe(result: VerifyResult) -> str:
    """The result in words for the window and `status`: "verify passed (3 commands)" or the failure."""
    failed = result.failed
    if failed is not None:
        return failure_reason(failed)
    count = len(result.commands)
    return f"verify passed ({count} command{'' if count == 1 else 's'})"


def log_header(cmd: str) -> str:
    """The line the verify log shows before each command's output."""
    return f"$ {cmd}\n"


def log_footer(command: VerifyCommand) -> str:
    if command.exit_code is None:
        return f"[timed out after {round(command.duration_ms / 1000)} s; killed]\n"
    return f"[exited {command.exit_code} after {command.duration_ms / 1000:.1f} s]\n"
