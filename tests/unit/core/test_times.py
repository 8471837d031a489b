import datetime as dt

from app.core.times import iso_ms

PARIS_WINTER = dt.timezone(dt.timedelta(hours=1))


def test_a_moment_is_written_in_utc_to_the_millisecond_with_a_z():
    moment = dt.datetime(2026, 11, 22, 2, 44, 55, 123456, tzinfo=PARIS_WINTER)
    assert iso_ms(moment) == "2026-11-22T01:44:55.123Z"


def test_a_whole_second_still_has_its_milliseconds():
    assert iso_ms(dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)) == "2026-11-22T01:00:00.000Z"


def test_a_moment_not_known_stays_not_known():
    assert iso_ms(None) is None
