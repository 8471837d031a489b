"""SPEC sections 7 and 9: what a finished run does to its job."""

from dataclasses import replace

from app.core.outcome import ExitInfo, Outcome
from app.core.queue import Status
from app.core.settle import settle

from .factories import job

RUNNING = job("01-a", Status.RUNNING)
EDITED = replace(RUNNING, content_hash="edited")  # the PRD changed while it ran


def settled(outcome_kind, reason="why", exit=ExitInfo(1), stop_reason=None, retry=1, running=RUNNING):
    return settle(running, Outcome(outcome_kind, reason), exit, stop_reason, retry)


def test_a_completed_run_completes_the_job_and_says_if_the_prd_changed_meanwhile():
    assert settled("completed", "result: success").status is Status.COMPLETED
    done = settled("completed", "result: success", running=EDITED)
    assert done.status is Status.COMPLETED and "PRD changed during the run" in done.reason


def test_a_usage_limit_sends_the_job_back_to_pending():
    result = settled("rate_limited", "You've hit your limit")
    assert (result.status, result.reason) == (Status.PENDING, "usage limit: You've hit your limit")


def test_a_cancelled_run_cancels_the_job():
    assert settled("cancelled").status is Status.CANCELLED


def test_agents_stopped_by_quitting_go_back_to_pending():
    result = settled("failed", exit=ExitInfo(-15), stop_reason="shutdown")
    assert result.status is Status.PENDING and "quit" in result.reason


def test_a_run_that_ended_while_no_engine_watched_is_retried_once_then_fails():
    first = settled("failed", "interrupted: no result", exit=ExitInfo(None))
    assert (first.status, first.interrupted) == (Status.PENDING, True)
    again = settled("failed", "interrupted: no result", exit=ExitInfo(None),
                    running=replace(RUNNING, interrupted_retries=1))
    assert (again.status, again.interrupted) == (Status.FAILED, True)
    assert settled("failed", exit=ExitInfo(None), retry=0).status is Status.FAILED


def test_a_failed_run_fails_the_job_unless_its_prd_was_edited_during_the_run():
    assert settled("failed", "exited with code 1").status is Status.FAILED
    retried = settled("failed", "exited with code 1", running=EDITED)
    assert retried.status is Status.PENDING and "running the new version" in retried.reason


def test_a_watchdog_or_spawn_failure_is_a_failure_not_an_interruption():
    assert settled("failed", exit=ExitInfo(None, watchdog="idle")).interrupted is False
    assert settled("failed", exit=ExitInfo(None, spawn_error="no binary")).status is Status.FAILED
