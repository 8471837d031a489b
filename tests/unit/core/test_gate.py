"""docs/BEHAVIOUR.md section 6: fire policies, thresholds, unknown usage, pauses, resume times, force tick."""

import datetime as dt

import pytest

from app.core import gate
from app.core.gate import Closed, GatePolicy, Open
from app.core.queue import OnReset, Pause, PauseReason
from app.core.usage import UNKNOWN, Usage, Window

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)


def usage(five=10.0, week=20.0, five_resets=LATER, week_resets=NOW + dt.timedelta(days=3)) -> Usage:
    return Usage(Window(five, five_resets), Window(week, week_resets), polled_at=NOW)


def decide(policy=GatePolicy(), use=None, paused=None, on_reset=OnReset(), now=NOW, force=False):
    return gate.decide(policy, usage() if use is None else use, paused, on_reset, now, force=force)


def test_when_available_opens_while_both_windows_are_under_their_thresholds():
    assert decide() == Open()


def test_five_hour_usage_at_the_threshold_closes_the_gate_until_its_reset():
    closed = decide(use=usage(five=90))
    assert isinstance(closed, Closed) and closed.kind == "usage"
    assert "five-hour usage 90 % ≥ 90 %" in closed.reason
    assert closed.until == LATER


def test_seven_day_usage_at_the_weekly_threshold_closes_the_gate():
    closed = decide(use=usage(week=98))
    assert isinstance(closed, Closed) and "seven-day usage 98 % ≥ 98 %" in closed.reason


def test_a_reading_taken_before_its_window_reset_no_longer_holds_the_gate():
    assert decide(use=usage(five=100), now=LATER + dt.timedelta(seconds=1)) == Open()


def test_unknown_usage_fires_by_default_and_holds_when_configured():
    assert decide(use=UNKNOWN) == Open()
    closed = decide(GatePolicy(when_unknown="hold"), use=UNKNOWN)
    assert isinstance(closed, Closed) and closed.kind == "unknown"


def test_manual_policy_only_force_tick_starts_runs():
    assert isinstance(decide(GatePolicy(fire_policy="manual")), Closed)
    assert decide(GatePolicy(fire_policy="manual"), force=True) == Open()


@pytest.mark.parametrize("reason", list(PauseReason))
def test_every_pause_closes_the_gate_and_force_tick_overrides_it(reason):
    pause = Pause(reason, NOW, None, f"paused: {reason}")
    closed = decide(paused=pause)
    assert isinstance(closed, Closed) and closed.kind == "paused" and closed.reason == f"paused: {reason}"
    assert decide(paused=pause, use=usage(five=100), force=True) == Open()


def test_on_reset_waits_until_offset_minutes_after_the_next_five_hour_reset_then_stays_open():
    policy = GatePolicy(fire_policy="on-reset", offset_minutes=15)
    latch = gate.advance_on_reset(OnReset(), policy, usage(), has_work=True, now=NOW)
    assert latch.target == LATER + dt.timedelta(minutes=15) and not latch.active
    assert isinstance(decide(policy, on_reset=latch), Closed)
    after = LATER + dt.timedelta(minutes=16)
    fresh_window = usage(five_resets=after + dt.timedelta(hours=5))
    latch = gate.advance_on_reset(latch, policy, fresh_window, has_work=True, now=after)
    assert latch.active
    assert decide(policy, use=fresh_window, on_reset=latch, now=after) == Open()
    # behaves as when-available while work remains
    busy = usage(five=95, five_resets=after + dt.timedelta(hours=5))
    assert isinstance(decide(policy, use=busy, on_reset=latch, now=after), Closed)


def test_on_reset_re_arms_when_the_queue_is_empty():
    policy = GatePolicy(fire_policy="on-reset")
    latch = gate.advance_on_reset(OnReset(NOW, True), policy, usage(), has_work=False, now=NOW)
    assert latch == OnReset()


def test_on_reset_with_no_open_window_fires_now():
    policy = GatePolicy(fire_policy="on-reset")
    latch = gate.advance_on_reset(OnReset(), policy, usage(five=0, five_resets=None), has_work=True, now=NOW)
    assert latch.active


def test_a_usage_limit_pause_resumes_at_the_reset_plus_the_margin():
    resets = NOW + dt.timedelta(minutes=30)
    pause = gate.rate_limit_pause(resets, "five_hour", 60, NOW)
    assert pause.reason is PauseReason.RATE_LIMIT
    assert pause.resume_at == resets + dt.timedelta(seconds=60)
    assert not gate.resume_due(pause, resets)
    assert gate.resume_due(pause, resets + dt.timedelta(seconds=60))


def test_a_manual_pause_never_resumes_by_itself():
    assert not gate.resume_due(gate.manual_pause(None, NOW), NOW + dt.timedelta(days=30))


def test_a_usage_limit_does_not_replace_a_manual_pause_but_a_manual_pause_replaces_a_usage_limit():
    manual = gate.manual_pause("lunch", NOW)
    limit = gate.rate_limit_pause(LATER, "five_hour", 60, NOW)
    assert gate.pause_with(manual, limit) is manual
    assert gate.pause_with(limit, manual) is manual


def test_two_usage_limits_keep_the_later_resume_time():
    early = gate.rate_limit_pause(NOW + dt.timedelta(minutes=5), "five_hour", 60, NOW)
    late = gate.rate_limit_pause(LATER, "seven_day", 60, NOW)
    assert gate.pause_with(early, late).resume_at == late.resume_at
    assert gate.pause_with(late, early) is late


def test_a_good_poll_ends_auth_and_network_pauses_but_not_the_others():
    for reason in (PauseReason.AUTH, PauseReason.NETWORK):
        assert gate.after_good_poll(Pause(reason, NOW, None, "x")) is None
    for reason in (PauseReason.MANUAL, PauseReason.STATE, PauseReason.RATE_LIMIT):
        pause = Pause(reason, NOW, None, "x")
        assert gate.after_good_poll(pause) is pause


def test_a_usage_limit_with_no_reset_time_tries_again_later_rather_than_pausing_forever():
    pause = gate.rate_limit_pause(None, "five_hour", 60, NOW)
    assert pause.resume_at == NOW + gate.UNKNOWN_RESET_RETRY
    assert "no reset time" in pause.message


def test_a_rejected_rate_limit_event_marks_that_window_full_until_its_reset():
    seen = gate.with_rejection(usage(), "five_hour", LATER)
    assert seen.five_hour == Window(100.0, LATER)
    assert isinstance(decide(use=seen), Closed)
    weekly = gate.with_rejection(usage(), "seven_day", LATER)
    assert weekly.seven_day.utilization == 100.0 and weekly.five_hour.utilization == 10.0
    assert gate.with_rejection(usage(), "five_hour", None) == usage()


def test_a_disk_pause_names_the_file_and_the_error_and_only_the_user_or_stronger_reasons_replace_it():
    disk = gate.disk_pause("/home/queue.json", "No space left on device", NOW)
    assert disk.reason is PauseReason.DISK and disk.resume_at is None
    assert "/home/queue.json" in disk.message and "No space left on device" in disk.message
    limit = gate.rate_limit_pause(LATER, "five_hour", 60, NOW)
    assert gate.pause_with(disk, limit) is disk
    assert gate.pause_with(limit, disk) is disk
    manual = gate.manual_pause(None, NOW)
    assert gate.pause_with(disk, manual) is manual
    assert gate.after_good_poll(disk) is disk


def test_a_pause_reason_from_the_user_is_kept_to_one_short_line():
    pause = gate.manual_pause("lunch\n" + "x" * 500_000, NOW)
    assert len(pause.message) <= gate.MAX_REASON_CHARS
    assert "\n" not in pause.message and pause.message.startswith("lunch x")


def test_a_missing_agent_pauses_with_the_command_and_the_fix_and_the_pause_ends_once_it_is_found():
    setup = gate.after_agent_check(None, "claude", False, NOW)
    assert setup.reason is PauseReason.SETUP and setup.resume_at is None
    assert "'claude' is not found" in setup.message
    assert "npm install -g @anthropic-ai/claude-code, or set agent.command in Settings" in setup.message
    assert isinstance(decide(paused=setup), Closed)
    assert gate.after_agent_check(setup, "claude", False, NOW + dt.timedelta(seconds=3)) is setup
    assert gate.after_agent_check(setup, "claude", True, NOW) is None
    assert gate.after_agent_check(None, "claude", True, NOW) is None


@pytest.mark.parametrize("reason", [PauseReason.MANUAL, PauseReason.STATE, PauseReason.DISK])
def test_a_missing_agent_never_replaces_a_pause_the_user_or_the_home_made_and_finding_it_leaves_them(reason):
    stronger = Pause(reason, NOW, None, "x")
    assert gate.after_agent_check(stronger, "claude", False, NOW) is stronger
    assert gate.after_agent_check(stronger, "claude", True, NOW) is stronger


def test_a_missing_agent_outranks_the_meters_pauses_and_they_do_not_replace_it():
    setup = gate.setup_pause("claude", NOW)
    for weaker in (gate.rate_limit_pause(LATER, "five_hour", 60, NOW), Pause(PauseReason.AUTH, NOW, None, "401"),
                   Pause(PauseReason.NETWORK, NOW, None, "unreachable")):
        assert gate.after_agent_check(weaker, "claude", False, NOW) == setup
        assert gate.after_agent_check(weaker, "claude", True, NOW) is weaker
        assert gate.pause_with(setup, weaker) is setup
