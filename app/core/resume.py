"""Continuing a run that was cut short instead of starting over (docs/BEHAVIOUR.md section 15):
which runs continue their agent session, when a resume could not be made, and what the
continued session is told. Pure decisions; the engine adds `--resume <session>` to the argv.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.outcome import ExitInfo
from app.core.queue import MAX_RESUMES, CurrentRun, Job, Resume
from app.core.stream import Result
from app.core.text import one_line

NO_CONVERSATION = "No conversation found with session ID"  # the CLI's stderr for an unknown session


@dataclass(frozen=True, slots=True)
class CutShort:
    """What follows a run cut short before its end (a usage limit, a restart): its job's next
    run continues its session, starts fresh, or the job fails after too many resumes."""

    resume: Resume | None
    resumes: int  # resumed runs of the job since its last fresh start, this one included
    failed: bool
    reason: str


def cut_short(job: Job, why: str, enabled: bool) -> CutShort:
    """`job` is running the run that was cut short; `why` how it was."""
    current = job.current
    assert current is not None
    resumes = job.resumes + (1 if current.resumed_from is not None else 0)
    if not enabled:
        return CutShort(None, 0, False, why)
    if resumes >= MAX_RESUMES:
        return CutShort(None, resumes, True,
                        f"{why}; cut short again after {MAX_RESUMES} resumed runs, so it is not continued again")
    if not current.session_id:
        return CutShort(None, 0, False, f"{why}; it ended before its agent began a session: it starts fresh")
    return CutShort(Resume(current.run_id, current.session_id, why), resumes, False,
                    f"{why}; it continues where it stopped")


def could_not_resume(current: CurrentRun, exit: ExitInfo, result: Result | None) -> str | None:
    """Why a resumed run could not continue its session (the CLI answered at once, without a
    turn), or None when it did."""
    if current.resumed_from is None or result is None or not result.is_error or result.num_turns not in (0, None):
        return None
    told = next((line.strip() for line in exit.stderr_tail.splitlines() if NO_CONVERSATION in line), None)
    if told is None and result.subtype != "error_during_execution":
        return None
    return one_line(told or "the agent could not continue the session", 200)


def continuation_prompt(body: str, resume: Resume) -> str:
    """What a resumed session is asked: it was interrupted and why; check what is done and go
    on; the PRD as it is now."""
    return (
        "This session was interrupted before the task was finished "
        f"({resume.why}). Overnight has resumed it so that you can continue where you stopped.\n\n"
        "First check what is already done: the files in the working directory, `git status` and "
        "`git diff` where it is a repository, and your own earlier steps above. Do not redo work that "
        "is done, then carry the task through to its end.\n\n"
        "The task, as its PRD reads now:\n\n"
        f"{body}"
    )
