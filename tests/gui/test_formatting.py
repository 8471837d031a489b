"""How values read on screen: times in the user's locale, the engine's names in words, durations,
countdowns, costs and sizes, and a job's status and duration in words."""

import datetime as dt
from dataclasses import replace

import pytest
from PySide6.QtCore import QLocale

from app.core.batching import Waiting
from app.core.gate import Closed, Open, rate_limit_pause
from app.core.queue import Investigation, InvestigationStatus, Status
from app.gui.formatting import (
    duration_text,
    format_clock,
    format_cost,
    format_countdown,
    format_duration,
    format_size,
    gate_words,
    plain_words,
    reason_text,
    status_text,
)
from tests.unit.core.factories import T0, job


def test_durations_read_as_words_as_precise_as_they_matter():
    spans = (-3, 59, 65, 599, 1320, 3600, 4320, 14400.0, 47 * 3600 + 59 * 60, 48 * 3600, 51 * 3600)
    assert [format_duration(seconds) for seconds in spans] == [
        "0 s", "59 s", "1 min 05 s", "9 min 59 s", "22 min", "1 h", "1 h 12 min", "4 h", "47 h 59 min", "2 d",
        "2 d 3 h"]


@pytest.fixture
def locale():
    """Set the app's locale for one test, as the user's system would."""
    before = QLocale()
    yield QLocale.setDefault
    QLocale.setDefault(before)


def local(*fields: int) -> dt.datetime:
    """A moment on the computer's own clock, whatever its time zone."""
    return dt.datetime(*fields).astimezone()


def test_a_time_follows_the_user_s_locale_24_or_12_hours(locale):
    moment, now = local(2026, 11, 24, 19, 42), local(2026, 11, 24, 9, 0)
    locale(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    assert format_clock(moment, now) == "19:42"
    locale(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    assert format_clock(moment, now) == "7:42\u202fPM"  # the narrow space the locale puts before PM


def test_a_time_on_another_day_says_the_weekday_within_the_week_else_the_date(locale):
    locale(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    now = local(2026, 11, 24, 9, 0)
    assert format_clock(local(2026, 11, 25, 14, 5), now) == "Wed 14:05"
    assert format_clock(local(2026, 12, 24, 14, 5), now) == "24/12/2026 14:05"


def test_the_same_day_is_the_computer_s_day_not_utc_s(locale):
    locale(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    moment = local(2026, 11, 24, 23, 30)
    assert format_clock(moment.astimezone(dt.UTC), local(2026, 11, 24, 0, 10)) == "23:30"


def test_a_countdown_says_when_and_how_long_then_now():
    later = T0 + dt.timedelta(hours=2, minutes=5)
    assert format_countdown(later, T0) == f"{format_clock(later, T0)} (in 2 h 5 min)"
    assert format_countdown(T0, later) == "now"
    assert format_countdown(None, T0) == ""


def test_the_engine_s_names_and_utc_times_read_as_plain_words_on_the_user_s_clock():
    now = dt.datetime.now(dt.UTC)
    resets = now.replace(hour=19, minute=0, second=0, microsecond=0)
    text = plain_words(f"error_max_turns: 30 turns; usage limit reached (five_hour), resets {resets.isoformat()}", now)
    assert text == ("stopped at the turn limit: 30 turns; usage limit reached (five-hour), "
                    f"resets {format_clock(resets, now)}")
    assert plain_words("result: success, 3 turns", now) == "finished, 3 turns"
    assert "UTC" not in plain_words(rate_limit_pause(resets, "seven_day", 720, now).message, now)


def test_whether_new_runs_start_reads_as_yes_or_no_and_why():
    now = dt.datetime.now(dt.UTC)
    assert gate_words(Open(), now)[0] == "Starting runs: yes"
    resets = now + dt.timedelta(hours=1)
    short, full, _fewest = gate_words(Closed("usage", "five-hour usage 95 % ≥ 90 %", resets), now)
    assert short == f"Starting runs: no — five-hour usage 95 % ≥ 90 % · expected {format_clock(resets, now)}"
    short, full, _fewest = gate_words(Closed("unknown", "usage is unknown and usage.when_unknown is hold"), now)
    assert short == "Starting runs: no — usage is unknown" and "when_unknown" not in full


def test_a_waiting_job_says_why_and_when_it_is_expected_to_start():
    now = dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(minutes=30)
    waiting = Waiting("waiting: five-hour usage 95 % ≥ 90 %", until)
    assert reason_text(job("02-b"), waiting, now) == (
        f"waiting: five-hour usage 95 % ≥ 90 % · expected {format_clock(until, now)}")
    assert reason_text(job("02-b"), Waiting("waiting for group 1"), now) == "waiting for group 1"


def test_costs_keep_cents_and_small_costs_their_digits():
    assert [format_cost(cost) for cost in (None, 0.42, 12.0, 0.0012)] == ["", "$0.42", "$12.00", "$0.0012"]


def test_sizes_are_counted_in_characters():
    assert [format_size(size) for size in (999, 1500, 2_500_000)] == ["999 chars", "1.5 k chars", "2.5 M chars"]


def test_the_status_says_what_is_still_happening_to_the_job():
    running = job("01-a", Status.RUNNING)
    assert status_text(running) == "running"
    assert status_text(replace(running, current=replace(running.current, stopping="cancel"))) == "running (stopping)"
    failed = replace(job("01-b", Status.FAILED),
                     investigation=Investigation(InvestigationStatus.WAITING, "01-fix-b", "run-1"))
    assert status_text(failed) == "failed (investigating)"


def test_the_duration_is_an_estimate_before_and_the_overrun_after_it():
    pending = replace(job("01-a"), estimate_minutes=5)
    assert duration_text(pending, T0) == "~5 min 00 s estimated"
    assert duration_text(replace(pending, estimate_minutes=72), T0) == "~1 h 12 min estimated"
    running = replace(job("01-a", Status.RUNNING), estimate_minutes=5)
    assert duration_text(running, T0 + dt.timedelta(minutes=7)) == "7 min 00 s · 2 min 00 s over estimate"
    assert duration_text(job("01-b", Status.SKIPPED), T0) == ""
