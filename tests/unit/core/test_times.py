import datetime as dt

from app.core.times import iso_ms, local_time

PARIS_WINTER = dt.timezone(dt.timedelta(hours=1))


def test_a_moment_is_written_in_utc_to_the_millisecond_with_a_z():
    moment = dt.datetime(2026, 11, 22, 2, 44, 55, 123456, tzinfo=PARIS_WINTER)
    assert iso_ms(moment) == "2026-11-22T01:44:55.123Z"


def test_a_whole_second_still_has_its_milliseconds():
    assert iso_ms(dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)) == "2026-11-22T01:00:00.000Z"


def test_a_moment_not_known_stays_not_known():
    assert iso_ms(None) is None


def local(*fields: int) -> dt.datetime:
    """A moment on the computer's own clock, whatever its time zone."""
    return dt.datetime(*fields).astimezone()


def test_a_moment_on_the_same_day_is_its_clock_time():
    assert local_time(local(2026, 11, 24, 14, 5), local(2026, 11, 24, 9, 0)) == "14:05"


def test_a_moment_on_another_day_says_which_day():
    assert local_time(local(2026, 11, 25, 14, 5), local(2026, 11, 24, 9, 0)) == "Wed 25 Nov 14:05"


def test_the_day_can_be_the_weekday_alone():
    now = local(2026, 11, 24, 9, 0)
    assert local_time(local(2026, 11, 25, 14, 5), now, day_format="%a") == "Wed 14:05"


def test_the_same_day_is_the_computer_s_day_not_utc_s():
    moment = local(2026, 11, 24, 23, 30)
    assert local_time(moment.astimezone(dt.UTC), local(2026, 11, 24, 0, 10)) == "23:30"
