import datetime as dt

from app.core.usage import UNKNOWN, Usage, Window

RESET = dt.datetime(2026, 11, 22, 5, tzinfo=dt.UTC)


def test_a_reading_counts_until_its_window_resets():
    window = Window(utilization=92.0, resets_at=RESET)
    assert window.effective(RESET - dt.timedelta(seconds=1)) == 92.0


def test_a_reading_taken_before_the_reset_says_the_new_window_is_empty():
    assert Window(utilization=92.0, resets_at=RESET).effective(RESET) == 0.0


def test_a_reading_without_a_reset_time_counts_as_it_is():
    assert Window(utilization=40.0).effective(RESET) == 40.0


def test_an_unknown_reading_stays_unknown_after_the_reset():
    assert Window(resets_at=RESET).effective(RESET) is None


def test_usage_is_known_when_either_window_has_a_reading():
    assert not UNKNOWN.known
    assert Usage(five_hour=Window(10.0)).known
    assert Usage(seven_day=Window(0.0)).known
