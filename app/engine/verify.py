"""A completed run's verify commands (docs/BEHAVIOUR.md section 13): each in turn with `sh -c`
in the job's folder, with the run's marker in its environment and a session of its own, its
output appended to the run's verify log, its tree ended at the verify timeout. The rules
(which commands, what the results mean) are `core/verify.py` and `core/finish.py`."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.core.agent import agent_env
from app.core.verify import VerifyCommand, VerifyResult, log_footer, log_header, result_of
from app.engine import procs
from app.engine.runner import exit_future
from app.paths import open_private

if TYPE_CHECKING:
    from app.engine.engine import Engine


@dataclass(frozen=True, slots=True)
class VerifyLaunch:
    """How a run's verify commands start: the agent's folder and environment (with its marker)."""

    cwd: str
    env: dict[str, str]
    marker: str
    log: Path
    timeout: float  # seconds one command may take
    kill_after: float  # seconds between SIGTERM and SIGKILL when it is ended


async def verify_job(engine: Engine, cwd: str, commands: Sequence[str], log: Path, marker: str) -> VerifyResult:
    """Verify a job's completed run in `cwd` (its folder, or its place in its worktree), with the
    agent's environment and marker."""
    config = engine.config
    env = agent_env(engine.environ, config.agent.env_remove, marker)
    launch = VerifyLaunch(cwd=cwd, env=env, marker=marker, log=log, timeout=config.workspace.verify_timeout,
                          kill_after=config.watchdog.kill_after)
    return await run_verify(commands, launch)


async def run_verify(commands: Sequence[str], launch: VerifyLaunch) -> VerifyResult:
    """Run `commands` in turn until one fails; nothing they started survives."""
    ran: list[VerifyCommand] = []
    with open_private(launch.log, "ab") as log:
        for cmd in commands:
            log.write(log_header(cmd).encode())
            log.flush()
            command = await _run_one(cmd, launch, log)
            log.write(log_footer(command).encode())
            log.flush()
            ran.append(command)
            if not command.passed:
                break
    return result_of(ran, str(launch.log))


async def _run_one(cmd: str, launch: VerifyLaunch, log: IO[Any]) -> VerifyCommand:
    started = time.monotonic()
    since = time.time()
    try:
        process = subprocess.Popen(["sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=launch.cwd, env=launch.env,
                                   start_new_session=True)
    except OSError as exc:  # the folder is gone, no sh, no processes left
        log.write(f"could not start: {exc.strerror or exc}\n".encode())
        return VerifyCommand(cmd, 127, 0)
    root = procs.identify(process.pid)
    exited = exit_future(process)
    done, _ = await asyncio.wait({exited}, timeout=launch.timeout)
    known = [root] if root is not None else []
    if not done and root is not None:  # its tree, as it is now, besides what carries the marker
        known += await asyncio.to_thread(procs.descendants, root)
    # No survivors, whether it timed out or left something running behind it.
    await asyncio.to_thread(procs.end_run, launch.marker, since - 1, launch.kill_after, known)
    code = await exited
    if not done:
        return VerifyCommand(cmd, None, int(launch.timeout * 1000))
    return VerifyCommand(cmd, code, int((time.monotonic() - started) * 1000))
