"""Investigations (docs/BEHAVIOUR.md section 8): when one starts, what it is told, what it writes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.prd import without_group_prefix
from app.core.queue import InvestigationStatus, Job, LastRun, Status
from app.core.stream import StreamReader
from app.core.text import pluralize
from app.core.transcript import render_text

FIX_PLAN_PATTERN = re.compile(r"^\d+-fix-")
TRANSCRIPT_TAIL_CHARS = 16 * 1024
VERIFY_TAIL_BYTES = 8 * 1024
_MAX_SLUG = 128


def is_fix_plan(slug: str) -> bool:
    return FIX_PLAN_PATTERN.match(slug) is not None


def fix_plan_slug(slug: str, group: int) -> str:
    """`07-add-login` in group 7 → `07-fix-add-login`; the fix plan runs in the same group."""
    prefix = f"{group:02d}-fix-"
    base = without_group_prefix(slug)
    return prefix + base[: _MAX_SLUG - len(prefix)]


def fix_plan_path(slug: str, *, prds: Path, fix_plans: Path, auto_run: bool) -> Path:
    """Where the investigator writes the fix plan `slug`: into prds/, where it runs at once, or
    (`investigation.auto_run: false`) into fix-plans/, where it waits for the user's approval."""
    return (prds if auto_run else fix_plans) / f"{slug}.md"


def should_investigate(jobs: Mapping[str, Job], job: Job, *, spawn_error: bool, enabled: bool) -> bool:
    """Failed jobs get one investigation, unless the failure was Overnight's own (a missing
    binary or cwd: an agent cannot fix that), the job is itself a fix plan (no recursion),
    or a fix plan for it exists already (in prds/, or held for the user's approval)."""
    return (
        enabled
        and not spawn_error
        and not is_fix_plan(job.slug)
        and job.fix_plan_slug is None
        and fix_plan_slug(job.slug, job.group) not in jobs
        and not holds_plan(job)
    )


# ---------------------------------------------------------------- held fix plans


def holds_plan(job: Job) -> bool:
    """The job's investigation wrote its fix plan under fix-plans/, where it waits for the user."""
    return job.investigation is not None and job.investigation.status is InvestigationStatus.HELD


def held_plans(jobs: Mapping[str, Job]) -> dict[str, Job]:
    """Every held fix plan's slug → the failed job whose investigation wrote it."""
    return {job.investigation.fix_plan_slug: job for job in jobs.values()
            if holds_plan(job) and job.investigation is not None}


def approved(job: Job, now: dt.datetime) -> Job:
    """The held fix plan went into prds/: from here it is a fix plan like any other."""
    assert job.investigation is not None
    inv = replace(job.investigation, status=InvestigationStatus.WROTE_FIX_PLAN, plan_path=None,
                  reason=f"wrote {job.investigation.fix_plan_slug}; approved by the user")
    return replace(job, investigation=inv, updated_at=now)


def discarded(job: Job, kept_at: str | None, now: dt.datetime) -> Job:
    """The user discarded the held fix plan; `kept_at` is where the file was put aside (None: it was gone)."""
    assert job.investigation is not None
    where = f" (kept at {kept_at})" if kept_at else ""
    inv = replace(job.investigation, status=InvestigationStatus.DISCARDED, plan_path=kept_at,
                  reason=f"its fix plan {job.investigation.fix_plan_slug} was discarded by the user{where}")
    return replace(job, investigation=inv, updated_at=now)


def held_plan_row(job: Job) -> Job:
    """How a held fix plan shows in the queue: a row of its own, waiting for the user, in the
    failed job's group and folder."""
    assert job.investigation is not None
    slug = job.investigation.fix_plan_slug
    return Job(slug=slug, title=f"Fix: {job.title}", cwd=job.cwd, group=job.group, status=Status.PENDING,
               created_at=job.investigation.finished_at or job.updated_at,
               updated_at=job.investigation.finished_at or job.updated_at, content_hash="",
               reason="awaiting approval: approve it to run it, or discard it", investigation_of=job.slug)


def transcript_tail(log_tail: bytes, limit: int = TRANSCRIPT_TAIL_CHARS) -> str:
    """The end of a run's stream-JSON as readable text. `log_tail` may start mid-line."""
    start = log_tail.find(b"\n") + 1 if not log_tail.startswith(b"{") else 0
    reader = StreamReader()
    events = reader.feed(log_tail[start:]) + reader.finish()
    text = render_text(events)
    return text if len(text) <= limit else "…" + text[-limit:]


# ---------------------------------------------------------------- a resumed session's runs


@dataclass(frozen=True, slots=True)
class RunTail:
    """One run of a failed session for its investigation: the run, its log, the end of its transcript."""

    run: LastRun
    log_path: str
    text: str


def session_chain(job: Job) -> tuple[LastRun, ...]:
    """The runs of the failed run's agent session, oldest first: the runs it continued (followed back
    through `resumed_from` among the job's earlier runs), then the failed run; that run alone when
    it started fresh. A run the record no longer keeps ends the chain."""
    if job.last is None:
        return ()
    kept = {run.run_id: run for run in job.earlier_runs}
    chain = [job.last]
    while (earlier := kept.pop(chain[-1].resumed_from or "", None)) is not None:  # pop: a loop ends
        chain.append(earlier)
    return tuple(reversed(chain))


def tail_budgets(count: int, total: int) -> list[int]:
    """`total` (bytes of log, characters of text) split among the `count` runs of a session, oldest
    first: the earlier runs share half of it (a quarter each at most), the failed run, last, gets
    the rest and so the most; a run that started fresh gets it all."""
    if count <= 1:
        return [total] * count
    share = min(total // 4, total // 2 // (count - 1))
    return [share] * (count - 1) + [total - share * (count - 1)]


def _transcript_section(transcript: str, earlier: Sequence[RunTail], last: LastRun | None) -> str:
    """The end of the failed run's transcript; for a resumed session, the end of each of its runs."""
    if not earlier or last is None:
        return f"""
# The end of its transcript
<transcript>
{transcript.strip() or "(the run wrote nothing)"}
</transcript>
"""
    runs = "".join(_run_section(tail.run, tail.text, f"\nFull transcript: {tail.log_path}") for tail in earlier)
    return f"""
# The ends of its runs' transcripts
Its agent session was cut short and continued (`claude --resume`) {pluralize(len(earlier), 'time')}, so the \
failure spans {len(earlier) + 1} runs of one session. The end of each run's transcript, oldest first:
{runs}{_run_section(last, transcript, " (the failed run)")}"""


def _run_section(run: LastRun, text: str, note: str) -> str:
    outcome = run.outcome.replace("_", " ")
    return f"""
## Run {run.run_id} — {outcome}: {run.reason or "no reason recorded"}{note}
<transcript>
{text.strip() or "(the run wrote nothing)"}
</transcript>
"""


def verify_log_tail(data: bytes, limit: int = VERIFY_TAIL_BYTES) -> str:
    """The end of a verify log as text (it may start mid-character)."""
    text = data[-limit:].decode("utf-8", errors="replace")
    return text if len(data) <= limit else "…" + text


def _verify_section(verify_log: str) -> str:
    if not verify_log:
        return ""
    return f"""
# The end of its verify log
The agent reported success, but a verify command that checks its work failed:
<verify>
{verify_log.strip()}
</verify>
"""


def investigation_prompt(
    *,
    job: Job,
    reason: str,
    body: str,
    transcript: str,
    log_path: str,
    fix_path: str,
    where: str,
    verify_log: str = "",
    earlier: Sequence[RunTail] = (),
) -> str:
    """`where` is the folder the investigation runs in: the job's cwd, or its place in the job's kept
    worktree. `verify_log`: the end of the run's verify log, when its verify commands failed it.
    `earlier`: the runs of its session before the failed one (`session_chain`), when it was resumed."""
    ws = job.workspace if job.workspace is not None and not job.workspace.merged else None
    branch_line = "" if ws is None else f"\n- Its work is on the git branch {ws.branch}, checked out in {ws.path}"
    worktree_keys = "" if ws is None else f"\n    workspace: worktree\n    base: {ws.branch}"
    return f"""You are investigating a job that failed in Overnight, a queue that runs task \
descriptions (PRDs) as headless Claude Code sessions. Your only task is to write ONE new \
PRD, a fix plan, that another agent will run next with no other context. Do not attempt \
the fix yourself and do not change any other file.

# The failed job
- Slug: {job.slug}
- Title: {job.title}
- Working directory: {where}{branch_line}
- Why it failed: {reason}
- Full transcript (stream-JSON, one event per line): {log_path}

# The PRD it was running
<prd>
{body.strip()}
</prd>
{_transcript_section(transcript, earlier, job.last)}{_verify_section(verify_log)}
# What to do
1. Read the full transcript at {log_path} if the end above is not enough, and read the \
project files in {where} you need to understand the failure.
2. Find the root cause.
3. Write exactly one file, at this absolute path:

    {fix_path}

   It must start with this frontmatter (fill in the title and your estimate):

    ---
    title: "Fix: <what the fix does, in a few words>"
    cwd: {job.cwd}
    parallelGroup: {job.group}
    estimateMinutes: <minutes>{worktree_keys}
    ---

   and its body must be self-contained, for an agent that has seen nothing of this:
   - Root cause: what went wrong and why, with the evidence.
   - Steps: the concrete changes, naming files, functions and commands.
   - Verification: the commands to run and what they must show.
   - Acceptance: when the original task ({job.slug}) counts as done.
4. When the file is written, stop.
"""
