"""The status strip: the policy, running k/cap, the gate, both usage windows and config problems, as published."""

import datetime as dt
from dataclasses import replace

from app.core.gate import Closed
from app.core.queue import Pause, PauseReason, QueueState, Status
from app.core.usage import Usage, Window
from app.engine.api import Snapshot
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
    assert strip.policy.text() == "Policy: on-reset"
    assert strip.running.text() == "Running 1/4"
    assert strip.gate.text() == "Gate closed: lunch"
    assert strip.five_hour.bar.value() == 42 and strip.five_hour.bar.format() == "5 h: 42%"
    assert strip.five_hour.countdown.text().startswith("resets in 2 h 05 min")
    assert strip.seven_day.bar.format() == "7 d: unknown"
    assert strip.stale.isVisible()
    assert "concurrency_cap" in strip.problems.toolTip()
    strip.show_state(replace(snapshot, problems=()), now + dt.timedelta(hours=3))
    assert strip.five_hour.countdown.text() == "resets now"
    assert strip.five_hour.bar.format() == "5 h: 0%"
    assert not strip.problems.isVisible()
