"""docs/BEHAVIOUR.md section 8: when a failed job is investigated, what the investigator is told,
where the fix plan goes."""

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.investigation import (
    TRANSCRIPT_TAIL_CHARS,
    RunTail,
    approved,
    discarded,
    fix_plan_path,
    fix_plan_slug,
    held_plan_row,
    held_plans,
    investigation_prompt,
    is_fix_plan,
    session_chain,
    should_investigate,
    tail_budgets,
    transcript_tail,
)
from app.core.outcome import OutcomeKind
from app.core.queue import Investigation, InvestigationStatus, LastRun, Status
from app.core.workspace import Workspace

from .factories import T0, job, jobs

DATA = Path(__file__).resolve().parents[2] / "data" / "cli-2.1.197"


@pytest.mark.parametrize(
    ("slug", "group", "expected"),
    [
        ("07-add-login", 7, "07-fix-add-login"),
        ("add-login", 99, "99-fix-add-login"),
        ("3-x", 3, "03-fix-x"),
        ("05-x", 0, "00-fix-x"),
        ("120-big", 120, "120-fix-big"),
    ],
)
def test_the_fix_plan_is_named_nn_fix_name_in_the_same_group(slug, group, expected):
    assert fix_plan_slug(slug, group) == expected


def test_a_fix_plan_name_never_exceeds_the_prd_name_limit():
    assert len(fix_plan_slug("01-" + "x" * 125, 1) + ".md") <= 131


def test_a_failed_job_is_investigated():
    failed = job("07-login", Status.FAILED)
    assert should_investigate(jobs(failed), failed, spawn_error=False, enabled=True)


def test_a_spawn_error_is_not_investigated_an_agent_cannot_fix_a_missing_binary_or_cwd():
    failed = job("07-login", Status.FAILED)
    assert not should_investigate(jobs(failed), failed, spawn_error=True, enabled=True)


def test_a_fix_plan_that_fails_is_not_investigated_no_recursion():
    failed = job("07-fix-login", Status.FAILED)
    assert is_fix_plan("07-fix-login") and not is_fix_plan("07-fixture")
    assert not should_investigate(jobs(failed), failed, spawn_error=False, enabled=True)


def test_no_investigation_when_a_fix_plan_exists_already():
    failed = job("07-login", Status.FAILED)
    assert not should_investigate(jobs(failed, job("07-fix-login")), failed, spawn_error=False, enabled=True)
    linked = job("07-login", Status.FAILED, fix_plan_slug="07-fix-other")
    assert not should_investigate(jobs(linked), linked, spawn_error=False, enabled=True)


def test_no_investigation_when_investigations_are_disabled():
    failed = job("07-login", Status.FAILED)
    assert not should_investigate(jobs(failed), failed, spawn_error=False, enabled=False)


def test_the_prompt_names_the_job_the_failure_the_prd_the_transcript_and_the_exact_path_to_write():
    failed = job("07-login", Status.FAILED, title="Add login")
    prompt = investigation_prompt(
        job=failed,
        reason="error_max_turns: Reached maximum number of turns (1)",
        body="Build the login page.\n",
        transcript="assistant: trying\nresult: error_max_turns",
        log_path="/home/u/.local/share/overnight/runs/r1/07-login.jsonl",
        fix_path="/home/u/.local/share/overnight/prds/07-fix-login.md",
        where=failed.cwd,
    )
    for expected in (
        "07-login",
        "Add login",
        failed.cwd,
        "error_max_turns: Reached maximum number of turns (1)",
        "Build the login page.",
        "result: error_max_turns",
        "/home/u/.local/share/overnight/runs/r1/07-login.jsonl",
    ):
        assert expected in prompt
    # The path stands alone on its line, so nothing quoted around it can be mistaken for part of it.
    assert "\n    /home/u/.local/share/overnight/prds/07-fix-login.md\n" in prompt
    assert 'title: "Fix: ' in prompt and f"cwd: {failed.cwd}" in prompt
    assert f"parallelGroup: {failed.group}" in prompt and "estimateMinutes:" in prompt
    for section in ("Root cause", "Steps", "Verification", "Acceptance"):
        assert section in prompt
    assert "Do not attempt the fix yourself" in prompt


def test_the_transcript_tail_is_readable_text_from_a_real_run():
    text = transcript_tail((DATA / "error_max_turns.jsonl").read_bytes())
    assert "Write" in text and "notes.txt" in text
    assert "error_max_turns" in text


def test_the_transcript_tail_starting_mid_line_skips_the_partial_line_and_keeps_the_end():
    data = (DATA / "tool_write.jsonl").read_bytes()
    text = transcript_tail(data[len(data) // 3:], limit=200)
    assert len(text) <= 201
    assert "done (write)" in text


# ---------------------------------------------------------------- held fix plans

HELD = Investigation(InvestigationStatus.HELD, "01-fix-a", "run-1", plan_path="/h/fix-plans/01-fix-a.md")


def test_the_fix_plan_goes_into_prds_or_waits_in_fix_plans_when_it_does_not_run_at_once():
    folders = {"prds": Path("/h/prds"), "fix_plans": Path("/h/fix-plans")}
    assert fix_plan_path("01-fix-a", **folders, auto_run=True) == Path("/h/prds/01-fix-a.md")
    assert fix_plan_path("01-fix-a", **folders, auto_run=False) == Path("/h/fix-plans/01-fix-a.md")


def test_a_job_whose_fix_plan_awaits_approval_is_not_investigated_again():
    failed = job("01-a", Status.FAILED, investigation=HELD)
    assert not should_investigate(jobs(failed), failed, spawn_error=False, enabled=True)


def test_held_plans_name_the_job_they_were_written_for_and_show_as_a_row_of_their_own():
    failed = job("01-a", Status.FAILED, investigation=HELD, title="Add login")
    assert held_plans(jobs(failed, job("02-b", Status.FAILED))) == {"01-fix-a": failed}
    row = held_plan_row(failed)
    assert (row.slug, row.title, row.group, row.investigation_of) == ("01-fix-a", "Fix: Add login", 1, "01-a")
    assert "awaiting approval" in row.reason


def test_an_approved_plan_is_a_written_fix_plan_and_a_discarded_one_says_where_it_was_kept():
    failed = job("01-a", Status.FAILED, investigation=HELD)
    now = T0 + dt.timedelta(hours=1)
    ok = approved(failed, now)
    assert ok.investigation.status is InvestigationStatus.WROTE_FIX_PLAN and ok.investigation.plan_path is None
    gone = discarded(failed, "/h/fix-plans/discarded/01-fix-a.md", now)
    assert gone.investigation.status is InvestigationStatus.DISCARDED and gone.status is Status.FAILED
    assert gone.investigation.plan_path == "/h/fix-plans/discarded/01-fix-a.md"
    assert "discarded by the user (kept at /h/fix-plans/discarded/01-fix-a.md)" in gone.investigation.reason
    assert not held_plans(jobs(ok)) and not held_plans(jobs(gone))


def test_a_worktree_jobs_investigation_is_told_its_branch_and_its_fix_plan_continues_from_it():
    ws = Workspace(repo="/code/app", path="/h/worktrees/app-1/07-login", branch="overnight/07-login", base="abc")
    failed = replace(job("07-login", Status.FAILED, title="Add login"), cwd="/code/app/web", workspace=ws,
                     workspace_mode="worktree")
    prompt = investigation_prompt(job=failed, reason="failed", body="b", transcript="", log_path="/l",
                                  fix_path="/p/07-fix-login.md", where="/h/worktrees/app-1/07-login/web")
    assert "- Working directory: /h/worktrees/app-1/07-login/web" in prompt
    assert "the git branch overnight/07-login, checked out in /h/worktrees/app-1/07-login" in prompt
    assert "\n    workspace: worktree\n    base: overnight/07-login\n    ---" in prompt
    assert "cwd: /code/app/web" in prompt  # the fix plan's own worktree keeps the same place


# ---------------------------------------------------------------- a resumed session's runs

def _run(run_id, outcome, reason, resumed_from=None):
    return LastRun(run_id, outcome, 1, T0, 1000, None, None, reason, resumed_from=resumed_from)


def _assistant_log(words: str, lines: int) -> bytes:
    """A run's stream-JSON: `lines` assistant messages, each naming `words` and its number."""
    return b"".join(json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "text", "text": f"{words} step {n}"}]}}).encode() + b"\n" for n in range(lines))


EARLIER_FRESH = _run("20261122-003000-aaaaaa", OutcomeKind.FAILED, "exit 1")  # a run before a re-run
CUT = _run("20261122-010000-bbbbbb", OutcomeKind.RATE_LIMITED, "usage limit reached; it continues where it stopped")
GOING_ON = _run("20261122-030000-cccccc", OutcomeKind.FAILED, "interrupted by a restart",
                resumed_from=CUT.run_id)
FAILED_RUN = _run("20261122-040000-dddddd", OutcomeKind.FAILED, "stopped at the turn limit",
                  resumed_from=GOING_ON.run_id)
RESUMED = job("07-login", Status.FAILED, title="Add login", last=FAILED_RUN,
              earlier_runs=(EARLIER_FRESH, CUT, GOING_ON))


def test_the_session_of_a_resumed_run_is_followed_back_oldest_first_leaving_other_runs_out():
    assert session_chain(RESUMED) == (CUT, GOING_ON, FAILED_RUN)
    fresh = replace(RESUMED, last=replace(FAILED_RUN, resumed_from=None))
    assert session_chain(fresh) == (fresh.last,)
    pruned = replace(RESUMED, earlier_runs=(GOING_ON,))  # the record no longer keeps the first run
    assert session_chain(pruned) == (GOING_ON, FAILED_RUN)
    looping = replace(RESUMED, earlier_runs=(replace(CUT, resumed_from=GOING_ON.run_id), GOING_ON))
    assert [run.run_id for run in session_chain(looping)] == [CUT.run_id, GOING_ON.run_id, FAILED_RUN.run_id]
    assert session_chain(job("07-login")) == ()


@pytest.mark.parametrize("count", [1, 2, 3, 4, 21])
def test_the_budget_is_split_among_a_sessions_runs_and_the_failed_run_gets_the_most(count):
    sizes = tail_budgets(count, 64 * 1024)
    assert len(sizes) == count and sum(sizes) <= 64 * 1024
    assert sizes[-1] == max(sizes) and (count == 1 or sizes[-1] > sizes[0] > 0)


def test_a_resumed_jobs_investigation_reads_the_end_of_each_run_of_its_session_in_order_under_the_budget():
    chain = session_chain(RESUMED)
    limits = tail_budgets(len(chain), TRANSCRIPT_TAIL_CHARS)
    tails = [RunTail(run, f"/h/runs/{run.run_id}/07-login.jsonl",
                     transcript_tail(_assistant_log(f"run {run.run_id}", 5000), limit))
             for run, limit in zip(chain, limits, strict=True)]
    prompt = investigation_prompt(job=RESUMED, reason=FAILED_RUN.reason, body="Add a login page.",
                                  transcript=tails[-1].text, log_path=tails[-1].log_path,
                                  fix_path="/h/prds/07-fix-login.md", where="/tmp", earlier=tails[:-1])
    headings = [f"## Run {CUT.run_id} — rate limited: usage limit reached; it continues where it stopped",
                f"## Run {GOING_ON.run_id} — failed: interrupted by a restart",
                f"## Run {FAILED_RUN.run_id} — failed: stopped at the turn limit (the failed run)"]
    places = [prompt.index(heading) for heading in headings]
    assert places == sorted(places)
    last_steps = [prompt.index(f"run {run.run_id} step 4999") for run in chain]
    assert places[0] < last_steps[0] < places[1] < last_steps[1] < places[2] < last_steps[2]
    assert f"Full transcript: /h/runs/{CUT.run_id}/07-login.jsonl" in prompt
    assert EARLIER_FRESH.run_id not in prompt
    assert "continued (`claude --resume`) 2 times, so the failure spans 3 runs" in prompt
    shown = sum(len(tail.text) for tail in tails)
    assert shown <= TRANSCRIPT_TAIL_CHARS + len(chain)  # each tail may start with "…"
    assert len(tails[-1].text) > len(tails[0].text)


def test_a_job_that_was_never_resumed_gets_the_prompt_it_always_got():
    fresh = replace(RESUMED, last=replace(FAILED_RUN, resumed_from=None))
    fields = dict(job=fresh, reason="stopped at the turn limit", body="b", transcript="assistant: stuck",
                  log_path="/l", fix_path="/p/07-fix-login.md", where="/tmp")
    prompt = investigation_prompt(**fields)
    assert prompt == investigation_prompt(**fields, earlier=())
    assert "# The end of its transcript\n<transcript>\nassistant: stuck\n</transcript>\n" in prompt
    assert "## Run" not in prompt and "claude --resume" not in prompt
