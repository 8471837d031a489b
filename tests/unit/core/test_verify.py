"""docs/BEHAVIOUR.md section 13: verified outcomes and the needs_review status, as rules."""

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import queue as q
from app.core.batching import is_idle, pick_next, waiting_reasons
from app.core.finish import RunEndRules, finish_run
from app.core.gate import Open
from app.core.investigation import investigation_prompt, verify_log_tail
from app.core.outcome import ExitInfo, Outcome, OutcomeKind, StopReason
from app.core.prd import Prd, PrdError, parse_prd
from app.core.queue import IllegalTransition, LastRun, Status
from app.core.queue_json import job_from_json, job_to_json
from app.core.upkeep import has_work, to_prune
from app.core.verify import VerifyCommand, VerifyResult, commands_for, describe, result_of

from .factories import T0, job, jobs

NOW = T0 + dt.timedelta(minutes=5)
RULES = RunEndRules(retry_interrupted=1, investigate=True, resume_margin=60)
PASSED = result_of([VerifyCommand("make test", 0, 1200), VerifyCommand("make lint", 0, 300)], "/runs/v.log")
FAILED = result_of([VerifyCommand("make test", 0, 1200), VerifyCommand("make lint", 2, 300)], "/runs/v.log")
TIMED_OUT = result_of([VerifyCommand("sleep 1000", None, 900_000)], "/runs/v.log")


def last_run() -> LastRun:
    return LastRun("r1", OutcomeKind.COMPLETED, 0, NOW, 1, None, None, "result: success")


def ended(verify, kind="completed", stop_reason=None, running=None):
    running = running or job("01-a", Status.RUNNING)
    outcome = Outcome(OutcomeKind(kind), "result: success" if kind == "completed" else "exited with code 1")
    return finish_run(jobs(running), running, outcome, ExitInfo(0), None, stop_reason, RULES, NOW, verify)


# ---------------------------------------------------------------- the words


def test_a_passing_verify_says_how_many_commands_passed():
    assert describe(PASSED) == "verify passed (2 commands)"
    assert describe(result_of([VerifyCommand("true", 0, 1)], "")) == "verify passed (1 command)"


def test_a_failing_verify_names_the_command_and_its_exit_or_the_timeout():
    assert describe(FAILED) == "verify failed: `make lint` exited 2"
    assert describe(TIMED_OUT) == "verify failed: `sleep 1000` timed out after 900 s"


def test_the_prds_verify_list_replaces_the_configs():
    assert commands_for(None, ("make test",)) == ("make test",)
    assert commands_for(("pytest",), ("make test",)) == ("pytest",)
    assert commands_for((), ("make test",)) == ()


# ---------------------------------------------------------------- the PRD key


def parse(tmp_path: Path, frontmatter: str) -> Prd | PrdError:
    data = f"---\n{frontmatter}\n---\nDo it.\n".encode()
    return parse_prd("01-a.md", data, path=str(tmp_path / "01-a.md"), default_cwd=str(tmp_path),
                     default_model="sonnet")


def test_verify_in_a_prd_is_one_command_or_a_list(tmp_path):
    one = parse(tmp_path, "verify: make test")
    many = parse(tmp_path, "verify:\n  - make test\n  - make lint")
    absent = parse(tmp_path, "title: A")
    assert isinstance(one, Prd) and one.verify == ("make test",)
    assert isinstance(many, Prd) and many.verify == ("make test", "make lint")
    assert isinstance(absent, Prd) and absent.verify is None
    assert "verify" not in many.extra


@pytest.mark.parametrize("value", ["42", "{make: test}", "[make test, '']", "[[make]]"])
def test_a_bad_verify_names_the_file_the_line_and_the_fix(tmp_path, value):
    error = parse(tmp_path, f"title: A\nverify: {value}")
    assert isinstance(error, PrdError)
    assert error.line == 3 and "verify is" in error.problem and "e.g. verify:" in error.fix
    assert "01-a.md:3" in error.one_line()


# ---------------------------------------------------------------- what a run's verify decides


def test_a_completed_run_whose_verify_passes_is_completed_with_its_result():
    done = ended(PASSED)
    assert done.job.status is Status.COMPLETED and done.job.verify == PASSED
    assert done.history["verified"] is True


def test_a_completed_run_whose_verify_fails_is_failed_and_investigated():
    done = ended(FAILED)
    assert (done.job.status, done.job.reason) == (Status.FAILED, "verify failed: `make lint` exited 2")
    assert done.job.investigation is not None
    assert done.job.last is not None and done.job.last.reason == "result: success"  # the agent's own outcome


def test_a_cancel_while_verifying_cancels_the_job():
    done = ended(FAILED, stop_reason=StopReason.CANCEL)
    assert (done.job.status, done.job.reason) == (Status.CANCELLED, "cancelled while verifying")


def test_quitting_with_the_agents_stopped_while_verifying_sends_the_job_back_to_pending():
    done = ended(FAILED, stop_reason=StopReason.SHUTDOWN)
    assert done.job.status is Status.PENDING and "quit" in done.job.reason and done.job.investigation is None


def test_the_investigation_prompt_carries_the_end_of_the_verify_log():
    log = b"x" * 20_000 + b"\nFAILED tests/test_login.py::test_bad_password\n"
    tail = verify_log_tail(log)
    assert len(tail) <= 8 * 1024 + 1 and tail.endswith("test_bad_password\n")
    prompt = investigation_prompt(job=job("01-a", Status.FAILED), reason="verify failed: `pytest` exited 1",
                                  body="Do it.", transcript="", log_path="/l", fix_path="/f", where="/w",
                                  verify_log=tail)
    assert "FAILED tests/test_login.py::test_bad_password" in prompt and "verify failed" in prompt
    without = investigation_prompt(job=job("01-a", Status.FAILED), reason="r", body="b", transcript="",
                                   log_path="/l", fix_path="/f", where="/w")
    assert "verify log" not in without


# ---------------------------------------------------------------- needs_review


def test_needs_review_is_reached_only_from_a_run_and_left_only_by_the_user():
    reviewed = q.finish(job("01-a", Status.RUNNING), Status.NEEDS_REVIEW, last_run(), NOW, "does not merge")
    assert reviewed.status is Status.NEEDS_REVIEW and reviewed.current is None
    assert q.make_pending(reviewed, "re-run", NOW).status is Status.PENDING
    with pytest.raises(IllegalTransition):
        q.start(job("01-a", Status.NEEDS_REVIEW), job("01-a", Status.RUNNING).current, NOW)
    with pytest.raises(IllegalTransition):
        q.finish(job("01-a", Status.PENDING), Status.NEEDS_REVIEW, last_run(), NOW)


def test_a_job_waits_on_a_needs_review_dependency_and_the_queue_is_idle_until_its_user_acts():
    review = job("01-a", Status.NEEDS_REVIEW, reason="finished without changing anything")
    dependent = job("02-b", depends_on=("01-a",))
    queue = jobs(review, dependent)
    assert pick_next(queue, cap=4) == []
    assert waiting_reasons(queue, Open(), cap=4)[dependent.slug].why == "waiting for 01-a, which needs your review"
    assert is_idle(queue)  # nothing more happens without the user
    assert not has_work(jobs(review))  # it is not work to run
    assert to_prune(jobs(review), NOW + dt.timedelta(days=365)) == []  # it waits for its user


statuses = st.sampled_from([s for s in Status if s is not Status.RUNNING])


@given(st.lists(statuses, min_size=1, max_size=5), st.integers(1, 8))
def test_dependents_never_start_on_a_needs_review_dependency(others, cap):
    deps = [job(f"0{i}-dep", status) for i, status in enumerate(others)]
    review = job("00-review", Status.NEEDS_REVIEW)
    dependent = job("09-dependent", depends_on=("00-review", *(d.slug for d in deps)))
    assert "09-dependent" not in pick_next(jobs(review, dependent, *deps), cap)


verify_results = st.builds(
    VerifyResult,
    ok=st.booleans(),
    commands=st.lists(st.builds(VerifyCommand, cmd=st.sampled_from(["make test", "true"]),
                                exit_code=st.none() | st.integers(0, 3), duration_ms=st.integers(0, 10**6)),
                      max_size=3).map(tuple),
    log_path=st.just("/runs/v.log"),
)


@given(st.none() | st.builds(result_of, st.lists(st.builds(VerifyCommand, cmd=st.just("make test"),
                                                           exit_code=st.none() | st.integers(0, 3),
                                                           duration_ms=st.integers(0, 10**6)), max_size=3),
                             st.just("/v.log")),
       st.sampled_from(list(OutcomeKind)), st.none() | st.sampled_from(list(StopReason)))
def test_no_job_is_ever_both_completed_by_verify_and_failed(verify, kind, stop_reason):
    running = replace(job("01-a", Status.RUNNING), interrupted_retries=1)
    done = ended(verify, kind.value, stop_reason, running).job
    if done.status is Status.COMPLETED:
        assert done.verify is None or done.verify.ok
    if done.verify is not None and done.verify.ok:
        assert done.status is not Status.FAILED
    if done.status is Status.FAILED and done.verify is not None:
        assert not done.verify.ok and done.reason == describe(done.verify)


@given(st.none() | verify_results)
def test_a_jobs_verify_result_survives_queue_json(verify):
    row = replace(job("01-a", Status.FAILED), verify=verify, verify_commands=("make test",))
    assert job_from_json(job_to_json(row)) == row


def test_an_older_queue_json_reads_as_no_verify():
    old = job_to_json(job("01-a", Status.COMPLETED))
    del old["verify"], old["verifyCommands"]
    row = job_from_json(old)
    assert row.verify is None and row.verify_commands is None
