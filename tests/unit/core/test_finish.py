"""docs/BEHAVIOUR.md sections 7 and 8: what the end of a run means for its job, and what the
end of an investigation means for the job it investigated."""

import datetime as dt
from dataclasses import replace

from app.core.finish import RunEndRules, finish_investigation, finish_run
from app.core.outcome import ExitInfo, Outcome, OutcomeKind, RunSummary, StopReason
from app.core.queue import Investigation, InvestigationStatus, PauseReason, Resume, Status
from app.core.stream import Result

from .factories import T0, job, jobs

NOW = T0 + dt.timedelta(minutes=5)
RULES = RunEndRules(retry_interrupted=1, investigate=True, resume_margin=60)
RUNNING = job("01-a", Status.RUNNING)
EDITED = replace(RUNNING, content_hash="edited")  # the PRD changed while it ran
RESET = T0 + dt.timedelta(hours=2)


def finished(outcome_kind, reason="why", exit=ExitInfo(1), stop_reason=None, retry=1, running=RUNNING,
             others=(), result=None, **outcome):
    rules = replace(RULES, retry_interrupted=retry)
    ended = Outcome(OutcomeKind(outcome_kind), reason, **outcome)
    return finish_run(jobs(running, *others), running, ended, exit, result, stop_reason, rules, NOW)


def test_a_completed_run_completes_the_job_and_says_if_the_prd_changed_meanwhile():
    assert finished("completed", "result: success").job.status is Status.COMPLETED
    done = finished("completed", "result: success", running=EDITED)
    assert done.job.status is Status.COMPLETED and "PRD changed during the run" in done.reason


def test_a_usage_limit_sends_the_job_back_to_pending():
    result = finished("rate_limited", "You've hit your limit")
    assert result.job.status is Status.PENDING
    assert result.reason.startswith("usage limit: You've hit your limit")


def test_a_cancelled_run_cancels_the_job():
    assert finished("cancelled").job.status is Status.CANCELLED


def test_agents_stopped_by_quitting_go_back_to_pending():
    result = finished("failed", exit=ExitInfo(-15), stop_reason=StopReason.SHUTDOWN)
    assert result.job.status is Status.PENDING and "quit" in result.reason


def test_a_run_the_spend_guard_stopped_sends_its_job_back_to_pending_as_it_was_before_the_run():
    resume = Resume("run-0", "session-0", "usage limit")
    resumed = replace(RUNNING, resume=resume, resumes=1,
                      current=replace(RUNNING.current, resumed_from="run-0", session_id="session-0",
                                      api_key_source="ANTHROPIC_API_KEY"))
    stopped = finished("cancelled", "stopped at once: billed per token", exit=ExitInfo(-15, spend_guard=True),
                       stop_reason=StopReason.SPEND, running=resumed)
    assert stopped.job.status is Status.PENDING and stopped.reason == "stopped at once: billed per token"
    assert (stopped.job.resume, stopped.job.resumes) == (resume, 1)
    assert stopped.job.investigation is None and stopped.job.interrupted_retries == 0
    assert stopped.history["apiKeySource"] == "ANTHROPIC_API_KEY" and stopped.history["status"] == "pending"
    # Its result came before the stop: the work is done.
    done = finished("completed", "result: success", stop_reason=StopReason.SPEND)
    assert done.job.status is Status.COMPLETED


def test_a_run_that_ended_while_no_engine_watched_is_retried_once_then_fails():
    first = finished("failed", "interrupted: no result", exit=ExitInfo(None))
    assert (first.job.status, first.job.interrupted_retries) == (Status.PENDING, 1)
    again = finished("failed", "interrupted: no result", exit=ExitInfo(None),
                     running=replace(RUNNING, interrupted_retries=1))
    assert again.job.status is Status.FAILED
    assert again.job.investigation is None  # an interruption is not the agent's failure
    assert finished("failed", exit=ExitInfo(None), retry=0).job.status is Status.FAILED


def test_a_failed_run_fails_the_job_unless_its_prd_was_edited_during_the_run():
    assert finished("failed", "exited with code 1").job.status is Status.FAILED
    retried = finished("failed", "exited with code 1", running=EDITED)
    assert retried.job.status is Status.PENDING and "running the new version" in retried.reason


def test_a_watchdog_or_spawn_failure_is_a_failure_not_an_interruption():
    watchdog = finished("failed", exit=ExitInfo(None, watchdog=StopReason.IDLE))
    assert watchdog.job.status is Status.FAILED and watchdog.job.investigation is not None
    assert finished("failed", exit=ExitInfo(None, spawn_error="no binary")).job.status is Status.FAILED


def test_a_failed_job_gets_an_investigation_that_will_write_its_fix_plan_in_the_same_group():
    inv = finished("failed", "exited with code 1").job.investigation
    assert inv is not None
    assert (inv.status, inv.fix_plan_slug, inv.failed_run_id) == (InvestigationStatus.WAITING, "01-fix-a", "run-01-a")


def test_no_investigation_when_switched_off_for_overnights_own_failures_for_fix_plans_or_twice():
    no_rules = RunEndRules(1, investigate=False, resume_margin=60)
    off = finish_run(jobs(RUNNING), RUNNING, Outcome(OutcomeKind.FAILED, "x"), ExitInfo(1), None, None, no_rules, NOW)
    assert off.job.investigation is None
    assert finished("failed", spawn_error=True).job.investigation is None
    fix_plan = job("01-fix-a", Status.RUNNING)
    assert finished("failed", running=fix_plan).job.investigation is None
    assert finished("failed", others=[job("01-fix-a")]).job.investigation is None


def test_a_usage_limit_marks_its_window_full_and_pauses_until_the_reset_plus_the_margin():
    hit = finished("rate_limited", "limit", resets_at=RESET, limit_type="five_hour").limit
    assert hit is not None and (hit.limit_type, hit.resets_at) == ("five_hour", RESET)
    assert hit.pause.reason is PauseReason.RATE_LIMIT
    assert hit.pause.resume_at == RESET + dt.timedelta(seconds=60)
    assert finished("failed").limit is None


def test_a_completed_run_that_saw_a_limit_still_pauses_the_queue_but_is_done():
    done = finished("completed", "result: success", resets_at=RESET, limit_type="five_hour")
    assert done.job.status is Status.COMPLETED and done.limit is not None


def test_the_history_record_says_what_happened_and_what_it_cost():
    result = Result(subtype="success", is_error=False, api_error_status=None, num_turns=3, duration_ms=1000,
                    total_cost_usd=0.12, text="done", terminal_reason=None, errors=())
    record = finished("completed", "result: success", exit=ExitInfo(0), result=result).history
    assert record["event"] == "run.finished" and record["kind"] == "job"
    assert (record["slug"], record["runId"], record["outcome"], record["status"]) == (
        "01-a", "run-01-a", "completed", "completed")
    assert (record["costUsd"], record["numTurns"], record["durationMs"], record["exitCode"]) == (0.12, 3, 300_000, 0)


def test_a_job_whose_prd_was_removed_during_its_run_leaves_the_queue_when_the_run_ends():
    gone = replace(RUNNING, file_gone=True)
    assert finished("completed", running=gone).leaves_queue
    assert finished("failed", running=gone).leaves_queue
    assert not finished("completed").leaves_queue


# ---------------------------------------------------------------- investigations


FAILED = job("01-a", Status.FAILED, investigation=Investigation(
    InvestigationStatus.RUNNING, "01-fix-a", failed_run_id="run-1", run_id="run-1", started_at=T0))


def investigated(outcome_kind="completed", written=False, stop_reason=None, queue=None, **outcome):
    ended = Outcome(OutcomeKind(outcome_kind), "why", **outcome)
    return finish_investigation(queue or jobs(FAILED), "01-a", ended, stop_reason, written, RULES, NOW)


def test_an_investigation_that_wrote_its_fix_plan_links_it_to_the_failed_job():
    done = investigated(written=True, queue=jobs(FAILED, job("01-fix-a")))
    assert done.ended and done.fix_plan == "01-fix-a"
    assert done.jobs["01-a"].investigation.status is InvestigationStatus.WROTE_FIX_PLAN
    assert done.jobs["01-a"].fix_plan_slug == "01-fix-a" and done.jobs["01-fix-a"].investigation_of == "01-a"
    assert done.history["fixPlan"] == "01-fix-a"


def test_an_investigation_that_wrote_nothing_ends_and_says_why():
    done = investigated("failed")
    assert done.ended and done.fix_plan is None
    assert done.jobs["01-a"].investigation.status is InvestigationStatus.NO_FIX_PLAN
    assert done.reason == "the investigation ended without writing the fix plan (why)"


def test_an_investigation_cut_short_by_a_usage_limit_or_a_quit_waits_for_its_turn_again():
    limited = investigated("rate_limited", resets_at=RESET, limit_type="five_hour")
    assert not limited.ended and limited.limit is not None and limited.history is None
    assert limited.jobs["01-a"].investigation.status is InvestigationStatus.WAITING
    quit_ = investigated("failed", stop_reason=StopReason.SHUTDOWN)
    assert not quit_.ended and quit_.jobs["01-a"].investigation.status is InvestigationStatus.WAITING
    # What it wrote before the limit counts.
    assert investigated("rate_limited", written=True, queue=jobs(FAILED, job("01-fix-a"))).ended


def test_an_investigation_the_spend_guard_stopped_waits_for_its_turn_again_and_says_why():
    stopped = investigated("cancelled", stop_reason=StopReason.SPEND)
    assert not stopped.ended and stopped.history is None
    assert stopped.jobs["01-a"].investigation.status is InvestigationStatus.WAITING
    assert stopped.jobs["01-a"].investigation.reason == "why"


def test_an_investigations_history_line_says_what_it_billed_and_cost():
    result = Result(subtype="success", is_error=False, api_error_status=None, num_turns=2, duration_ms=1000,
                    total_cost_usd=0.25, text="done", terminal_reason=None, errors=())
    summary = RunSummary(result=result, api_key_source="ANTHROPIC_API_KEY")
    done = finish_investigation(jobs(FAILED), "01-a", Outcome(OutcomeKind.COMPLETED, "why"), None, False, RULES,
                                NOW, summary=summary)
    assert (done.history["apiKeySource"], done.history["costUsd"]) == ("ANTHROPIC_API_KEY", 0.25)


def test_an_investigation_that_wrote_its_plan_to_fix_plans_holds_it_for_approval():
    ended = Outcome(OutcomeKind.COMPLETED, "why")
    done = finish_investigation(jobs(FAILED), "01-a", ended, None, False, RULES, NOW,
                                held_at="/h/fix-plans/01-fix-a.md")
    held = done.jobs["01-a"].investigation
    assert done.ended and done.fix_plan == "01-fix-a"
    assert held.status is InvestigationStatus.HELD and held.plan_path == "/h/fix-plans/01-fix-a.md"
    assert "awaits your approval" in held.reason and done.jobs["01-a"].fix_plan_slug is None
