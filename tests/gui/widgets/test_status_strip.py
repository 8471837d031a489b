"""The status strip: the policy, running k/cap, the gate, both usage windows and config problems, as published."""

import datetime as dt
from dataclasses import replace

from app.core.gate import Closed, rate_limit_pause
from app.core.queue import Pause, PauseReason, QueueState, Status
from app.core.usage import Usage, Window
from app.engine.api import Snapshot
from app.gui.formatting import format_clock
from app.gui.widgets.status_strip import StatusStrip
from tests.unit.core.factories import job


def test_the_status_strip_shows_usage_with_reset_countdowns_and_a_stale_marker(qtbot, idle_window):
    strip: StatusStrip = idle_window.usage_strip
    now = dt.datetime.now(dt.UTC)
    resets = now + dt.timedelta(hours=2, minutes=5, seconds=30)
    usage = Usage(Window(42.0, resets), Window(None, None), polled_at=now, stale=True)
    state = QueueState(jobs={"01-a": job("01-a", Status.RUNNING)}, usage=usage,
                       paused=Pause(PauseReason.MANUAL, now, None, "lunch"))
    config = replace(idle_window.bridge.config, fire_policy="on-reset")
    snapshot = Snapshot(state, config, 4, Closed("paused", "lunch"), ("config.yaml: concurrency_cap is 'many'",))
    strip.show_state(snapshot, now)
    assert strip.policy.full_text == "Runs start: after the reset"
    assert "on-reset" not in strip.policy.toolTip() and "reset" in strip.policy.toolTip()
    assert strip.running.text() == "Running 1/4"
    assert strip.gate.full_text == "Starting runs: no — the queue is paused"
    assert strip.five_hour.bar.value() == 42
    assert strip.five_hour.reading.full_text == f"42 % · resets {format_clock(resets, now)}"
    assert "(in 2 h 5 min)" in strip.five_hour.toolTip()
    assert strip.seven_day.reading.full_text == "unknown"
    assert strip.stale.isVisible()
    assert "concurrency_cap" in strip.problems.toolTip()
    strip.show_state(replace(snapshot, problems=()), now + dt.timedelta(hours=3))
    assert strip.five_hour.reading.full_text == "0 %"
    assert not strip.problems.isVisible()


def test_the_strip_says_whether_runs_start_in_plain_words_and_a_usage_limit_holds_the_bar_full(qtbot, idle_window):
    strip: StatusStrip = idle_window.usage_strip
    now = dt.datetime.now(dt.UTC)
    config = idle_window.bridge.config
    strip.show_state(Snapshot(QueueState(), config, 2), now)
    assert strip.gate.full_text == "Starting runs: yes"
    pause = rate_limit_pause(now + dt.timedelta(minutes=10), "five_hour", 120, now)
    usage = Usage(Window(12.0, now + dt.timedelta(hours=4)), Window(30.0, None), polled_at=now)
    state = QueueState(usage=usage, paused=pause)
    strip.show_state(Snapshot(state, config, 2, Closed("paused", pause.message, pause.resume_at)), now)
    expected = format_clock(pause.resume_at, now)
    assert strip.gate.full_text == f"Starting runs: no — the queue is paused · expected {expected}"
    assert "UTC" not in strip.gate.toolTip()
    assert strip.five_hour.reading.full_text.startswith("limit reached")
    assert strip.seven_day.reading.full_text == "30 %"
    manual = replace(config, fire_policy="manual")
    strip.show_state(Snapshot(QueueState(), manual, 2, Closed("manual", "fire policy is manual")), now)
    assert strip.gate.full_text == "Starting runs: no — you start each batch"
    assert strip.policy.full_text == "Runs start: when you say"
