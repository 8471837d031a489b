from datetime import UTC, datetime, timedelta

import pytest

from app.core.limits import reset_from_epoch
from app.core.outcome import ExitInfo, Outcome, classify
from app.core.stream import AssistantText, RateLimit, Result

from .captures import (
    INIT,
    LONDON,
    SUCCESS,
    assistant_line,
    by_version,
    capture,
    outcome_of,
    read_all,
    rejected_line,
    result_line,
    summarize,
)

# The real CLI's output


def test_a_usage_limit_reported_as_success_with_is_error_is_rate_limited():
    outcome = outcome_of(capture("rate_limited_subscription.jsonl"), ExitInfo(returncode=1))
    assert outcome.kind == "rate_limited"
    assert outcome.resets_at == reset_from_epoch(1795315495)
    assert outcome.limit_type == "five_hour"
    assert outcome.reason == "You've hit your session limit · resets 2:44am (UTC)"


def test_a_run_that_reached_max_turns_failed_with_the_cli_s_reason():
    outcome = outcome_of(capture("error_max_turns.jsonl"), ExitInfo(returncode=1))
    assert outcome == Outcome("failed", "error_max_turns: Reached maximum number of turns (1)")


# Every tested version: what Overnight relies on, whatever the wording


@by_version
@pytest.mark.parametrize(
    "name", ["success.jsonl", "bash_background_child.jsonl", "tool_write.jsonl", "session_before_resume.jsonl",
             "resumed_session.jsonl"]
)
def test_a_run_with_a_successful_result_completed(version, name):
    outcome = outcome_of(capture(name, version), ExitInfo(returncode=0))
    assert outcome.kind == "completed"
    assert outcome.resets_at is None


@by_version
def test_a_subscription_limit_is_rate_limited_until_the_reset_the_cli_reported(version):
    events = read_all(capture("rate_limited_subscription.jsonl", version))
    [rejected] = [e for e in events if isinstance(e, RateLimit) and e.status == "rejected"]
    [notice] = [e for e in events if isinstance(e, AssistantText) and e.synthetic]
    resets_at = reset_from_epoch(rejected.resets_at)
    outcome = classify(summarize(events), ExitInfo(returncode=1), resets_at - timedelta(hours=1), LONDON)
    assert (outcome.kind, outcome.resets_at, outcome.limit_type) == ("rate_limited", resets_at, "five_hour")
    assert outcome.reason == notice.text  # "session limit" (2.1.197) or "5-hour limit" (2.1.332)


@by_version
def test_max_turns_fails_with_the_cli_s_reason(version):
    outcome = outcome_of(capture("error_max_turns.jsonl", version), ExitInfo(returncode=1))
    assert outcome.kind == "failed" and outcome.reason.startswith("error_max_turns: Reached maximum number of turns")


@by_version
def test_a_resume_of_an_unknown_session_is_one_failed_result_of_no_turns(version):
    [result] = read_all(capture("resume_unknown_session.jsonl", version))
    assert isinstance(result, Result)
    assert (result.subtype, result.is_error, result.num_turns) == ("error_during_execution", True, 0)
    outcome = outcome_of(capture("resume_unknown_session.jsonl", version), ExitInfo(returncode=1))
    assert outcome.kind == "failed" and "error_during_execution" in outcome.reason


# Outcomes of hand-made runs


def test_a_run_without_a_result_that_exited_1_failed_naming_the_code_and_stderr():
    exit = ExitInfo(returncode=1, stderr_tail="starting\nError: Invalid model name 'sonet'\n")
    assert outcome_of(INIT + assistant_line("working"), exit) == Outcome(
        "failed", "exited with code 1 without a result: Error: Invalid model name 'sonet'"
    )


def test_a_run_killed_by_sigkill_without_a_result_failed_naming_the_signal():
    outcome = outcome_of(INIT, ExitInfo(returncode=-9))
    assert outcome == Outcome("failed", "killed by SIGKILL without a result")


def test_a_run_whose_exit_status_is_unknown_and_has_no_result_was_interrupted():
    outcome = outcome_of(INIT, ExitInfo(returncode=None))
    assert outcome.kind == "failed" and outcome.reason.startswith("interrupted")


@pytest.mark.parametrize(
    ("watchdog", "words"), [("idle", "watchdog.idle"), ("max_duration", "watchdog.max_duration")]
)
def test_a_run_stopped_by_a_watchdog_before_its_result_failed_naming_the_watchdog(watchdog, words):
    outcome = outcome_of(INIT, ExitInfo(returncode=-15, watchdog=watchdog))
    assert outcome.kind == "failed"
    assert watchdog in outcome.reason and words in outcome.reason


def test_a_success_then_killed_by_the_post_result_watchdog_completed():
    outcome = outcome_of(INIT + SUCCESS, ExitInfo(returncode=-9, watchdog="post_result"))
    assert outcome.kind == "completed"
    assert "did not exit after its result" in outcome.reason


def test_a_run_cancelled_before_its_result_is_cancelled():
    outcome = outcome_of(INIT + assistant_line("working"), ExitInfo(returncode=-15, cancelled=True))
    assert outcome == Outcome("cancelled", "cancelled by the user")


def test_a_run_the_spend_guard_stopped_is_cancelled_and_names_the_credential():
    events = read_all(INIT.replace(b'"apiKeySource":"none"', b'"apiKeySource":"ANTHROPIC_API_KEY"'))
    assert b'"apiKeySource":"none"' in INIT
    summary = summarize(events)
    outcome = classify(summary, ExitInfo(returncode=-15, spend_guard=True), datetime.now(UTC), UTC)
    assert outcome.kind == "cancelled" and "billed per token through ANTHROPIC_API_KEY" in outcome.reason


def test_a_run_cancelled_after_its_successful_result_completed():
    outcome = outcome_of(INIT + SUCCESS, ExitInfo(returncode=-15, cancelled=True))
    assert outcome.kind == "completed"


def test_a_spawn_error_fails_the_run_and_is_marked_as_such():
    outcome = outcome_of(
        b"", ExitInfo(returncode=None, spawn_error="agent binary 'claude' not found on PATH")
    )
    assert outcome == Outcome("failed", "agent binary 'claude' not found on PATH", spawn_error=True)


def test_an_error_result_that_is_not_a_limit_failed_with_its_text_and_status():
    data = INIT + result_line(
        is_error=True, api_error_status=500, result="API Error: 500 Internal server error"
    )
    outcome = outcome_of(data, ExitInfo(returncode=1))
    assert outcome == Outcome(
        "failed",
        "the agent reported an error (API status 500): API Error: 500 Internal server error",
    )


@pytest.mark.parametrize(
    "prose",
    [
        "The server answers 'usage limit reached' when the quota is gone.",
        "You've hit your session limit · resets 3pm (Europe/London)",
    ],
)
def test_the_agent_s_own_prose_about_usage_limits_is_not_a_rate_limit(prose):
    data = INIT + assistant_line(prose)
    assert outcome_of(data, ExitInfo(returncode=1)).kind == "failed"
    assert outcome_of(data + SUCCESS, ExitInfo(returncode=0)) == outcome_of(
        INIT + SUCCESS, ExitInfo(returncode=0)
    )


def test_a_rejected_event_followed_by_a_successful_result_completed_and_still_carries_the_reset():
    outcome = outcome_of(
        INIT + rejected_line(limit_type="seven_day") + SUCCESS, ExitInfo(returncode=0)
    )
    assert outcome.kind == "completed"
    assert (outcome.resets_at, outcome.limit_type) == (reset_from_epoch(1795315495), "seven_day")


def test_a_rejected_event_alone_is_rate_limited_even_without_a_result():
    outcome = outcome_of(INIT + rejected_line(), ExitInfo(returncode=-9))
    assert (outcome.kind, outcome.resets_at, outcome.limit_type) == (
        "rate_limited",
        reset_from_epoch(1795315495),
        "five_hour",
    )
    assert (
        outcome.reason
        == f"usage limit reached (five_hour), resets {reset_from_epoch(1795315495).isoformat()}"
    )


def test_a_429_result_without_a_limit_notice_is_rate_limited_with_unknown_reset():
    outcome = outcome_of(
        INIT + result_line(is_error=True, api_error_status=429, result="API Error: 429"),
        ExitInfo(returncode=1),
    )
    assert (outcome.kind, outcome.resets_at) == ("rate_limited", None)


def test_a_rejected_event_without_reset_time_takes_it_from_the_cli_s_notice():
    notice = assistant_line(
        "You've hit your weekly limit · resets 3pm (Europe/London)",
        model="<synthetic>",
        error="rate_limit",
    )
    outcome = outcome_of(
        INIT + rejected_line(resets_at=None, limit_type="seven_day") + notice,
        ExitInfo(returncode=1),
    )
    assert (outcome.kind, outcome.resets_at, outcome.limit_type) == (
        "rate_limited",
        datetime(2026, 11, 22, 15, tzinfo=UTC),
        "seven_day",
    )


def test_a_limit_message_on_stderr_alone_is_rate_limited():
    exit = ExitInfo(returncode=1, stderr_tail="Error: 5-hour limit reached ∙ resets 4am\n")
    outcome = outcome_of(INIT, exit)
    assert (outcome.kind, outcome.resets_at, outcome.limit_type) == (
        "rate_limited",
        datetime(2026, 11, 22, 4, tzinfo=LONDON),
        "five_hour",
    )


def test_the_old_epoch_limit_line_printed_outside_json_is_rate_limited():
    outcome = outcome_of(
        INIT + b"Claude AI usage limit reached|1767398400\n", ExitInfo(returncode=1)
    )
    assert (outcome.kind, outcome.resets_at) == ("rate_limited", reset_from_epoch(1767398400))


def test_a_limit_reset_beyond_any_date_is_unknown_rather_than_a_crash():
    outcome = outcome_of(INIT + rejected_line(resets_at=10**20), ExitInfo(returncode=1))
    assert (outcome.kind, outcome.resets_at) == ("rate_limited", None)
