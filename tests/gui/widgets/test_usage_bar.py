"""One usage bar: its reading beside the bar (never across the fill), "unknown" without a reading,
amber near the threshold and red at it, a limit Claude reported shown until its reset."""

import datetime as dt

import pytest

from app.core.usage import Window
from app.gui.formatting import ERROR_COLOR, WARNING_COLOR, format_clock
from app.gui.widgets.usage_bar import UsageBar


@pytest.fixture
def bar(qtbot):
    bar = UsageBar("5 h")
    qtbot.addWidget(bar)
    return bar


def test_without_a_reading_the_bar_says_unknown_and_shows_no_reset(bar):
    assert bar.reading.full_text == "unknown" and bar.bar.value() == 0
    assert bar.toolTip() == "5 h usage of your subscription: unknown"


def test_the_reading_is_a_label_beside_the_bar_not_text_over_its_fill(bar):
    now = dt.datetime.now(dt.UTC)
    bar.show_window(Window(42.0, now + dt.timedelta(minutes=40)), 90.0, now)
    assert not bar.bar.isTextVisible()
    assert bar.reading.full_text == f"42 % · resets {format_clock(now + dt.timedelta(minutes=40), now)}"
    assert bar.color is None


@pytest.mark.parametrize(("used", "color"), [(79.0, None), (80.0, WARNING_COLOR), (89.5, WARNING_COLOR),
                                             (90.0, ERROR_COLOR), (103.4, ERROR_COLOR)])
def test_the_bar_turns_amber_near_the_threshold_and_red_at_it(bar, used, color):
    now = dt.datetime.now(dt.UTC)
    bar.show_window(Window(used, now + dt.timedelta(minutes=40)), 90.0, now)
    assert bar.color == color
    assert (color or "") in bar.bar.styleSheet()
    assert bar.bar.value() == min(round(used), 100)
    assert bar.toolTip().startswith(f"5 h usage of your subscription: {used:.0f} %; new runs start below 90 %")


def test_a_limit_claude_reported_shows_until_its_reset_whatever_the_meter_says(bar):
    now = dt.datetime.now(dt.UTC)
    resume = now + dt.timedelta(minutes=22)
    bar.show_window(Window(12.0, now + dt.timedelta(hours=3)), 90.0, now, limit_until=resume)
    assert bar.reading.full_text == f"limit reached · resets {format_clock(resume, now)}"
    assert "12 %" not in bar.reading.full_text and bar.bar.value() == 100 and bar.color == ERROR_COLOR
    bar.refresh(resume + dt.timedelta(seconds=1))
    assert bar.reading.full_text.startswith("12 % · resets") and bar.color is None
