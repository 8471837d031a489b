"""docs/BEHAVIOUR.md section 15: a run cut short continues its agent session when its job runs
again; a session the CLI cannot find starts fresh; at most three resumes in a row."""

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import queue as q
from app.core.agent import agent_argv
from app.core.finish import RunEndRules, finish_run
from app.core.outcome import ExitInfo, Outcome, OutcomeKind, StopReason
from app.core.queue import EARLIER_RUNS_KEPT, MAX_RESUMES, LastRun, Resume, Status
from app.core.resume import continuation_prompt, could_not_resume
from app.core.stream import Result

from .captures import VERSIONS, capture, read_all, summarize
from .factories import T0, job, jobs

NOW = T0 + dt.timedelta(minutes=50)
RULES = RunEndRules(retry_interrupted=1, investigate=True, resume_margin=60)
SESSION = "0a620d86-34eb-4660-adfd-f815a3059643"
LIMITED = Outcome(OutcomeKind.RATE_LIMITED, "You've hit your 5-hour limit · resets 3am (UTC)")
NO_CONVERSATION = f"No conversation found with session ID: {SESSION}\n"


def running(session: str | None = SESSION, resumed_from: str | None = None, resumes: int = 0, **fields):
    base = job("01-a", Status.RUNNING, resumes=resumes, **fields)
    assert base.current is not None
    return replace(base, current=replace(base.current, session_id=session, resumed_from=resumed_from))


def ended(before, outcome=LIMITED, exit=ExitInfo(1), result=None, stop=None, rules=RULES):
    return finish_run(jobs(before), before, outcome, exit, result, stop, rules, NOW)


def unknown_session_result(turns=0):
    return Result(subtype="error_during_execution", is_error=True, api_error_status=None, num_turns=turns,
                  duration_ms=12, total_cost_usd=0, text="", terminal_reason=None, errors=())


def test_a_usage_limit_leaves_the_session_to_continue_after_the_reset():
    done = ended(running())
    assert done.job.status is Status.PENDING
    assert done.job.resume == Resume("run-01-a", SESSION, done.job.resume.why)
    assert done.job.resume.why.startswith("usage limit: You've hit your 5-hour limit")
    assert done.reason.endswith("it continues where it stopped")
    assert (done.job.last.session_id, done.history["sessionId"]) == (SESSION, SESSION)


@pytest.mark.parametrize("exit, stop", [(ExitInfo(-15), StopReason.SHUTDOWN), (ExitInfo(None), None)],
                         ids=["stopped when Overnight quit", "ended while no engine watched"])
def test_a_run_cut_short_by_a_restart_continues_its_session(exit, stop):
    done = ended(running(), Outcome(OutcomeKind.FAILED, "interrupted: no result"), exit, stop=stop)
    assert done.job.status is Status.PENDING and done.job.resume.session_id == SESSION


def test_a_failure_a_completion_or_a_cancel_leaves_nothing_to_continue():
    for outcome in (Outcome(OutcomeKind.FAILED, "exited with code 1"), Outcome(OutcomeKind.COMPLETED, "result"),
                    Outcome(OutcomeKind.CANCELLED, "cancelled")):
        done = ended(running(resumes=2, resumed_from="run-0"), outcome)
        assert (done.job.resume, done.job.resumes) == (None, 0)


def test_a_run_cut_short_before_its_session_began_starts_fresh():
    done = ended(running(session=None))
    assert done.job.status is Status.PENDING and done.job.resume is None
    assert "starts fresh" in done.reason


def test_with_resume_switched_off_a_run_cut_short_starts_fresh_as_before():
    done = ended(running(), rules=replace(RULES, resume=False))
    assert done.job.status is Status.PENDING and done.job.resume is None
    assert done.reason == f"usage limit: {LIMITED.reason}"


def test_resumes_are_counted_and_the_fourth_cut_in_a_row_fails_the_job_without_an_investigation():
    before = running()
    for count in range(1, MAX_RESUMES + 1):
        done = ended(before)
        assert done.job.status is Status.PENDING, count
        resume = done.job.resume
        current = q.CurrentRun(run_id=f"run-{count}", started_at=NOW, log_path="/l", content_hash="h",
                               session_id=resume.session_id, resumed_from=resume.run_id)
        before = q.start(done.job, current, NOW)
    done = ended(before)
    assert done.job.status is Status.FAILED and done.job.resume is None
    assert f"after {MAX_RESUMES} resumed runs" in done.reason and LIMITED.reason in done.reason
    assert done.job.investigation is None  # a usage limit is not the agent's failure


def test_a_resume_the_cli_cannot_find_starts_fresh_at_once_with_the_reason():
    done = ended(running(resumed_from="run-0", resumes=1), Outcome(OutcomeKind.FAILED, "error_during_execution"),
                 ExitInfo(1, stderr_tail=NO_CONVERSATION), unknown_session_result())
    assert done.job.status is Status.PENDING
    assert (done.job.resume, done.job.resumes) == (None, 0)
    assert done.reason == f"could not continue the session of run run-0 ({NO_CONVERSATION.strip()}): it starts fresh"
    assert done.job.investigation is None


def test_only_a_resumed_run_that_made_no_turn_counts_as_not_resumable():
    current = running(resumed_from="run-0").current
    told = ExitInfo(1, stderr_tail=NO_CONVERSATION)
    assert could_not_resume(current, told, unknown_session_result()) is not None
    assert could_not_resume(current, ExitInfo(1), unknown_session_result()) is not None  # the CLI's own answer
    assert could_not_resume(current, told, unknown_session_result(turns=3)) is None  # it did continue
    assert could_not_resume(running().current, told, unknown_session_result()) is None  # it was not resumed
    assert could_not_resume(current, told, None) is None


def test_the_continuation_prompt_says_why_asks_to_check_and_repeats_the_prd():
    prompt = continuation_prompt("Add the login page.\n", Resume("run-7", SESSION, "usage limit: resets 3am"))
    assert "interrupted" in prompt and "usage limit: resets 3am" in prompt
    assert "check what is already done" in prompt
    assert prompt.endswith("Add the login page.\n")


def test_the_argv_of_a_resumed_run_names_its_session():
    argv = agent_argv("claude", "sonnet", ["--max-turns", "9"], resume=SESSION)
    assert argv[argv.index("--resume") + 1] == SESSION and argv[-2:] == ["--max-turns", "9"]
    assert "--resume" not in agent_argv("claude", "sonnet")


def test_a_rerun_or_a_changed_prd_starts_fresh():
    waiting = replace(job("01-a", Status.FAILED), resume=Resume("run-1", SESSION, "x"), resumes=2)
    fresh = q.make_pending(waiting, "re-run requested", NOW)
    assert (fresh.resume, fresh.resumes) == (None, 0)


@given(st.integers(0, 3 * EARLIER_RUNS_KEPT))
def test_a_job_keeps_its_earlier_runs_in_order_and_bounded(count):
    current = job("01-a", Status.PENDING)
    for number in range(count):
        run = q.CurrentRun(run_id=f"run-{number}", started_at=NOW, log_path="/l", content_hash="h")
        last = LastRun(f"run-{number}", OutcomeKind.RATE_LIMITED, 1, NOW, 1, None, None, "limit")
        current = q.finish(q.start(current, run, NOW), Status.PENDING, last, NOW)
    ids = [run.run_id for run in current.earlier_runs]
    assert ids == [f"run-{n}" for n in range(max(0, count - 1 - EARLIER_RUNS_KEPT), count - 1)]
    assert current.last is None or current.last.run_id == f"run-{count - 1}"


@pytest.mark.parametrize("version", VERSIONS, ids=lambda path: path.name)
def test_the_real_clis_answer_to_an_unknown_session_is_read_as_not_resumable(version):
    summary = summarize(read_all(capture("resume_unknown_session.jsonl", version)))
    current = running(resumed_from="run-0").current
    why = could_not_resume(current, ExitInfo(1, stderr_tail=NO_CONVERSATION), summary.result)
    assert why == NO_CONVERSATION.strip()


@pytest.mark.parametrize("version", VERSIONS, ids=lambda path: path.name)
def test_a_resumed_session_keeps_its_id_and_says_it_bills_the_subscription(version):
    before = summarize(read_all(capture("session_before_resume.jsonl", version)))
    after = summarize(read_all(capture("resumed_session.jsonl", version)))
    assert before.session_id and after.session_id == before.session_id
    assert after.api_key_source == "none"
