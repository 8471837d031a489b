"""One usage bar: the reading and its reset countdown, "unknown" without a reading, the threshold in its tooltip."""

import datetime as dt

from app.core.usage import Window
from app.gui.widgets.usage_bar import UsageBar


def usage_bar(qtbot):
    bar = UsageBar("5 h")
    qtbot.addWidget(bar)
    return bar


def test_without_a_reading_the_bar_says_unknown_and_shows_no_countdown(qtbot):
    bar = usage_bar(qtbot)
    assert bar.bar.format() == "5 h: unknown" and bar.bar.value() == 0
    assert bar.countdown.text() == ""
    assert bar.toolTip() == "5 h usage of your subscription"


def test_a_reading_over_the_limit_fills_the_bar_and_its_label_and_tooltip_say_how_far(qtbot):
    bar = usage_bar(qtbot)
    now = dt.datetime.now(dt.UTC)
    bar.show_window(Window(103.4, now + dt.timedelta(minutes=40)), 80.0, now)
    assert bar.bar.value() == 100
    assert bar.bar.format() == "5 h: 103%"
    assert bar.countdown.text().startswith("resets in 40 min 00 s")
    assert bar.toolTip().endswith("; new runs start below 80%")
