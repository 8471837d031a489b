"""How values read on screen: durations, countdowns, costs and sizes, and a job's status and duration in words."""

import datetime as dt
from dataclasses import replace

from app.core.queue import Investigation, InvestigationStatus, Status
from app.gui.formatting import (
    duration_text,
    format_cost,
    format_countdown,
    format_duration,
    format_size,
    status_text,
)
from tests.unit.core.factories import T0, job


def test_durations_grow_from_seconds_to_days():
    assert [format_duration(seconds) for seconds in (-3, 59, 60, 3599, 3600, 47 * 3600 + 59 * 60, 48 * 3600)] == [
        "0 s", "59 s", "1 min 00 s", "59 min 59 s", "1 h 00 min", "47 h 59 min", "2 d 0 h"]


def test_a_countdown_says_how_long_and_when_then_now():
    later = T0 + dt.timedelta(hours=2, minutes=5)
    assert format_countdown(later, T0) == f"in 2 h 05 min ({later.astimezone():%H:%M})"
    assert format_countdown(T0, later) == "now"
    assert format_countdown(None, T0) == ""


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
    running = replace(job("01-a", Status.RUNNING), estimate_minutes=5)
    assert duration_text(running, T0 + dt.timedelta(minutes=7)) == "7 min 00 s · 2 min 00 s over estimate"
    assert duration_text(job("01-b", Status.SKIPPED), T0) == ""
