import datetime as dt
import json

from app.core.history import summarize

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def run(day: int, outcome: str, cost: float | None, kind: str = "job", hour: int = 3) -> str:
    ts = dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"ts": ts, "event": "run.finished", "kind": kind, "slug": "a", "outcome": outcome,
                       "costUsd": cost})


def beat(day: int, hour: int, five: float | None, seven: float | None) -> str:
    ts = dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"ts": ts, "counts": {}, "gate": "open", "paused": None, "fiveHour": five, "sevenDay": seven,
                       "stale": False})


def test_the_days_are_the_last_thirty_ending_today():
    history = summarize([], [], NOW)
    assert len(history.days) == 30
    assert history.days[-1] == dt.date(2026, 11, 30)
    assert history.days[0] == dt.date(2026, 11, 1)


def test_job_runs_are_counted_per_day_by_outcome_and_their_cost_added():
    lines = [run(29, "completed", 1.5), run(29, "failed", 0.25), run(30, "completed", 2.0), run(30, "completed", None)]
    history = summarize(lines, [], NOW)
    assert history.runs["completed"][-2:] == [1, 2]
    assert history.runs["failed"][-2:] == [1, 0]
    assert history.cost[-2:] == [1.75, 2.0]
    assert sum(history.runs["cancelled"]) == 0


def test_investigations_other_events_and_runs_before_the_period_are_left_out():
    removed = json.dumps({"ts": "2026-11-29T01:00:00Z", "event": "removed", "slug": "a"})
    lines = [run(29, "completed", 1.0, kind="investigation"), removed, run(1, "failed", 1.0)]
    old = json.dumps({"ts": "2026-10-01T01:00:00Z", "event": "run.finished", "kind": "job", "outcome": "failed"})
    history = summarize([*lines, old], [], NOW)
    assert sum(history.runs["failed"]) == 1 and history.runs["failed"][0] == 1
    assert sum(history.runs["completed"]) == 0
    assert history.skipped == 0


def test_days_are_the_users_calendar_days():
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    history = summarize([run(30, "completed", 1.0, hour=2)], [], local)
    assert history.days[-1] == dt.date(2026, 11, 30)
    assert history.runs["completed"][-2:] == [1, 0]  # 02:00 UTC is the evening before, five hours west


def test_corrupt_and_truncated_lines_are_skipped_and_counted():
    good = run(30, "completed", 1.0)
    lines = [good, "not json", good[:20], "[1, 2]", json.dumps({"event": "run.finished"}), "", good]
    history = summarize(lines, [beat(30, 1, 10, 20), '{"ts": "yesterday"'], NOW)
    assert history.runs["completed"][-1] == 2
    assert history.skipped == 5
    assert len(history.usage) == 1


def test_utilization_points_come_in_time_order_with_unknown_values_kept_as_unknown():
    beats = [beat(30, 2, 40.0, 60.0), beat(29, 23, None, 55.5), beat(30, 13, 99.0, 99.0)]  # the last is after now
    history = summarize([], beats, NOW)
    assert [(point.five_hour, point.seven_day) for point in history.usage] == [(None, 55.5), (40.0, 60.0)]
