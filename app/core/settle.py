"""What a finished run means for its job (SPEC sections 7 and 9): the job's next status."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.outcome import ExitInfo, Outcome
from app.core.queue import Job, Status


@dataclass(frozen=True, slots=True)
class Settlement:
    status: Status
    reason: str
    interrupted: bool = False  # no engine saw it end: not the agent's failure


def settle(job: Job, outcome: Outcome, exit: ExitInfo, stop_reason: str | None, retry_interrupted: int) -> Settlement:
    """`job` is the running job (its PRD as it is now); `stop_reason` says why Overnight stopped
    the run, if it did ("shutdown": the user quit and chose to stop the agents)."""
    assert job.current is not None
    prd_changed = job.content_hash != job.current.content_hash
    if outcome.kind == "completed":
        note = "; the PRD changed during the run" if prd_changed else ""
        return Settlement(Status.COMPLETED, outcome.reason + note)
    if outcome.kind == "cancelled":
        return Settlement(Status.CANCELLED, outcome.reason)
    if outcome.kind == "rate_limited":
        return Settlement(Status.PENDING, f"usage limit: {outcome.reason}")
    if stop_reason == "shutdown":
        return Settlement(Status.PENDING, "stopped when Overnight quit; it will run again")
    if exit.returncode is None and exit.spawn_error is None and exit.watchdog is None:
        # It ended while no engine watched (a crash, a restart): run it again, once.
        if job.interrupted_retries < retry_interrupted:
            return Settlement(Status.PENDING, f"{outcome.reason}; retrying", interrupted=True)
        return Settlement(Status.FAILED, outcome.reason, interrupted=True)
    if prd_changed:
        # The user edited it while it ran: the new version has not been tried yet.
        return Settlement(Status.PENDING, f"failed ({outcome.reason}), but its PRD changed during the run: "
                                          "running the new version")
    return Settlement(Status.FAILED, outcome.reason)
