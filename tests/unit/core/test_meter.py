"""docs/BEHAVIOUR.md section 6: what each usage-meter answer means — backoff, stale values, pauses."""

import datetime as dt

from app.core.meter import (
    BACKOFF_MAX,
    MeterHealth,
    PollResult,
    after_poll,
    usage_from_response,
)
from app.core.queue import PauseReason

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def test_the_meter_response_gives_both_windows_and_their_reset_times():
    usage = usage_from_response(
        {
            "five_hour": {"utilization": 42.5, "resets_at": "2026-11-22T15:00:00.123456+00:00"},
            "seven_day": {"utilization": 7, "resets_at": "2026-11-25T00:00:00Z"},
            "seven_day_opus": None,
        },
        NOW,
    )
    assert usage.five_hour.utilization == 42.5
    assert usage.five_hour.resets_at == dt.datetime(2026, 11, 22, 15, 0, 0, 123456, tzinfo=dt.UTC)
    assert usage.seven_day.utilization == 7.0
    assert usage.known and not usage.stale


def test_a_null_window_is_unknown_not_zero():
    usage = usage_from_response({"five_hour": None, "seven_day": {"utilization": 3, "resets_at": None}}, NOW)
    assert usage.five_hour.utilization is None and usage.seven_day.utilization == 3.0


def test_a_response_of_an_unknown_shape_is_rejected():
    assert usage_from_response(["x"], NOW) is None
    assert usage_from_response({"something": 1}, NOW) is None
    assert usage_from_response({"five_hour": {"utilization": "high"}}, NOW) is None


def test_a_good_poll_clears_failures_and_polls_again_after_poll_seconds():
    step = after_poll(MeterHealth(failures=3, backoff=120), PollResult("ok"), 120, NOW)
    assert step.health.failures == 0 and step.next_poll_in == 120 and step.pause is None


def test_401_or_403_pauses_auth():
    step = after_poll(MeterHealth(), PollResult("auth", status=401), 120, NOW)
    assert step.pause.reason is PauseReason.AUTH
    assert "sign in again" in step.pause.message


def test_429_honours_retry_after_and_never_counts_toward_a_network_pause():
    health = MeterHealth()
    for minute in range(0, 120, 5):
        limited = PollResult("rate_limited", status=429, retry_after=300)
        step = after_poll(health, limited, 120, NOW + dt.timedelta(minutes=minute))
        health = step.health
        assert step.pause is None
        assert step.next_poll_in >= 300
    assert health.failing_since is None


def test_transient_failures_back_off_from_30_s_doubling_to_480_s():
    health, delays = MeterHealth(), []
    for _ in range(7):
        step = after_poll(health, PollResult("transient", "timeout"), 120, NOW)
        health = step.health
        delays.append(step.next_poll_in)
    assert delays == [30, 60, 120, 240, 480, 480, 480]
    assert BACKOFF_MAX == 480


def test_thirty_minutes_of_only_network_failures_pause_network():
    health = MeterHealth()
    step = after_poll(health, PollResult("transient", "HTTP 503", status=503), 120, NOW)
    assert step.pause is None
    step = after_poll(step.health, PollResult("transient", "HTTP 503"), 120, NOW + dt.timedelta(minutes=29))
    assert step.pause is None
    step = after_poll(step.health, PollResult("transient", "HTTP 503"), 120, NOW + dt.timedelta(minutes=30))
    assert step.pause.reason is PauseReason.NETWORK
    assert "30 minutes" in step.pause.message


def test_missing_credentials_are_not_a_failure():
    step = after_poll(MeterHealth(failures=2, backoff=60), PollResult("no_credentials"), 120, NOW)
    assert step.health.failures == 0 and step.pause is None
