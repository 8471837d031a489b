from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.limits import (
    find_limit_message,
    limit_kind_from_text,
    plausible_reset,
    reset_from_epoch,
    reset_from_iso,
    reset_from_text,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


# reset_from_epoch / reset_from_iso


def test_a_rate_limit_event_reset_is_read_as_utc_epoch_seconds():
    assert reset_from_epoch(1795315495) == utc(2026, 11, 22, 2, 44, 55)
    assert reset_from_epoch(1795315495.0) == utc(2026, 11, 22, 2, 44, 55)


def test_an_epoch_no_datetime_can_hold_is_a_value_error():
    with pytest.raises(ValueError):
        reset_from_epoch(10**20)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T05:00:00.123456+00:00",
        "2026-11-22T05:00:00.123456Z",
        "2026-11-22T06:00:00.123456+01:00",
    ],
)
def test_the_usage_meter_reset_is_read_with_its_offset(text):
    assert reset_from_iso(text) == datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC)


def test_a_usage_meter_reset_without_offset_is_taken_as_utc():
    assert reset_from_iso("2026-11-22T05:00:00") == utc(2026, 11, 22, 5)


@pytest.mark.parametrize("text", [None, "", "soon", "2026-13-45T99:00:00Z", 1795315495])
def test_a_missing_or_garbled_usage_meter_reset_is_none(text):
    assert reset_from_iso(text) is None


# find_limit_message

LIMIT_MESSAGES = [
    "You've hit your limit · resets 3pm (Europe/London)",
    "You've hit your session limit · resets 2:44am (UTC)",
    "You've hit your weekly limit · resets Mar 15 at 12pm (America/New_York)",
    "You've hit your Opus limit · resets Mar 15, 12:30pm (America/New_York)",
    "You’ve hit your org's monthly spend limit · ask your admin to raise it",
    "5-hour limit reached ∙ resets 1am",
    "Opus weekly limit reached ∙ resets Oct 9 at 10pm",
    "Claude AI usage limit reached|1767398400",
    "Claude usage limit reached. Your limit will reset at 5pm (Europe/Paris).",
]


@pytest.mark.parametrize("message", LIMIT_MESSAGES)
def test_each_limit_message_the_cli_has_printed_is_recognised(message):
    assert find_limit_message(message) == message


def test_the_limit_sentence_is_cut_out_of_the_surrounding_output():
    output = (
        "Error: request failed\nClaude AI usage limit reached|1767398400\n    at main (cli.js:1)"
    )
    assert find_limit_message(output) == "Claude AI usage limit reached|1767398400"


@pytest.mark.parametrize(
    "prose",
    [
        "add a rate limit to the login endpoint",
        "The API returns 429 when the rate limit is reached; retry with backoff.",
        "Show 'usage limit reached' in the banner when the quota is gone.",
        "Approaching usage limit · resets 3pm",
        "You've used 90% of your session limit · resets 3pm (Europe/London)",
        "You're now using usage credits · Your session limit resets 3pm",
        "",
    ],
)
def test_prose_that_merely_mentions_limits_is_not_a_limit_message(prose):
    assert find_limit_message(prose) is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("You've hit your session limit · resets 2:44am (UTC)", "five_hour"),
        ("5-hour limit reached ∙ resets 1am", "five_hour"),
        ("You've hit your weekly limit · resets Mar 15 at 12pm", "seven_day"),
        ("You've hit your Opus limit · resets Mar 15 at 12pm", "seven_day_opus"),
        ("You've hit your limit · resets 3pm (Europe/London)", None),
        ("Claude AI usage limit reached|1767398400", None),
    ],
)
def test_the_limit_a_message_names_is_read_as_its_rate_limit_type(message, kind):
    assert limit_kind_from_text(message) == kind


# reset_from_text


def test_a_reset_in_london_summer_time_is_an_hour_ahead_of_utc():
    now = utc(2026, 7, 1, 10)
    reset = reset_from_text("You've hit your limit · resets 3pm (Europe/London)", now, UTC)
    assert reset == utc(2026, 7, 1, 14)


def test_a_reset_in_london_winter_time_is_utc():
    now = utc(2026, 1, 15, 10)
    reset = reset_from_text("You've hit your limit · resets 3pm (Europe/London)", now, UTC)
    assert reset == utc(2026, 1, 15, 15)


def test_a_reset_with_minutes_later_today_is_today():
    now = utc(2026, 11, 22, 1, 45)
    reset = reset_from_text("You've hit your session limit · resets 2:44am (UTC)", now, LONDON)
    assert reset == utc(2026, 11, 22, 2, 44)


def test_a_reset_time_already_past_today_rolls_to_the_next_day():
    now = utc(2026, 11, 22, 9)
    reset = reset_from_text("You've hit your session limit · resets 2:44am (UTC)", now, LONDON)
    assert reset == utc(2026, 11, 23, 2, 44)


def test_a_reset_printed_floored_to_the_minute_is_not_pushed_to_tomorrow():
    now = utc(2026, 11, 22, 2, 44, 30)
    reset = reset_from_text("You've hit your session limit · resets 2:44am (UTC)", now, LONDON)
    assert reset == utc(2026, 11, 22, 2, 44)


def test_a_reset_time_falls_on_the_day_of_the_message_zone_not_the_utc_day():
    # 02:00 UTC on Nov 22 is still 21:00 on Nov 21 in New York: 11pm there is two hours away.
    now = utc(2026, 11, 22, 2)
    reset = reset_from_text("You've hit your limit · resets 11pm (America/New_York)", now, UTC)
    assert reset == datetime(2026, 11, 21, 23, tzinfo=NEW_YORK)


def test_a_dated_reset_later_this_year_is_this_year():
    now = utc(2026, 3, 1)
    message = "You've hit your weekly limit · resets Mar 15 at 12pm (America/New_York)"
    assert reset_from_text(message, now, UTC) == utc(2026, 3, 15, 16)  # EDT since Mar 8


def test_a_dated_reset_already_past_this_year_is_next_year():
    now = utc(2026, 4, 1)
    message = "You've hit your weekly limit · resets Mar 15 at 12pm (America/New_York)"
    assert reset_from_text(message, now, UTC) == utc(2027, 3, 15, 16)  # EDT since Mar 14


def test_a_dated_reset_in_the_current_cli_format_with_comma_and_minutes_is_read():
    now = utc(2026, 3, 1)
    message = "You've hit your weekly limit · resets Mar 15, 12:30pm (America/New_York)"
    assert reset_from_text(message, now, UTC) == utc(2026, 3, 15, 16, 30)


def test_a_dated_reset_with_its_year_is_that_year():
    now = utc(2026, 12, 30)
    message = "You've hit your weekly limit · resets Jan 2, 2027, 9am (UTC)"
    assert reset_from_text(message, now, UTC) == utc(2027, 1, 2, 9)


def test_12am_is_midnight_and_12pm_is_noon():
    now = utc(2026, 11, 22, 10)
    assert reset_from_text("You've hit your limit · resets 12am (UTC)", now, UTC) == utc(
        2026, 11, 23, 0
    )
    assert reset_from_text("You've hit your limit · resets 12pm (UTC)", now, UTC) == utc(
        2026, 11, 22, 12
    )


def test_a_24_hour_reset_time_is_read():
    now = utc(2026, 11, 22, 10)
    assert reset_from_text("You've hit your limit · resets 15:00 (UTC)", now, LONDON) == utc(
        2026, 11, 22, 15
    )


def test_a_reset_without_zone_is_read_in_the_local_zone():
    now = utc(2026, 11, 22, 1, 45)  # 20:45 on Nov 21 in New York
    reset = reset_from_text("5-hour limit reached ∙ resets 1am", now, NEW_YORK)
    assert reset == utc(2026, 11, 22, 6)


def test_a_reset_with_an_unknown_zone_is_read_in_the_local_zone():
    now = utc(2026, 11, 22, 1, 45)
    message = "You've hit your limit · resets 1am (Mars/Olympus_Mons)"
    reset = reset_from_text(message, now, NEW_YORK)
    assert reset == utc(2026, 11, 22, 6)


def test_the_old_epoch_form_is_read_as_epoch_seconds():
    reset = reset_from_text("Claude AI usage limit reached|1767398400", utc(2026, 1, 1), LONDON)
    assert reset == utc(2026, 1, 3)


def test_the_old_sentence_form_with_reset_at_is_read():
    now = utc(2026, 11, 22, 10)
    message = "Claude usage limit reached. Your limit will reset at 5pm (Europe/Paris)."
    assert reset_from_text(message, now, LONDON) == datetime(2026, 11, 22, 17, tzinfo=PARIS)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "You've hit your monthly spend limit · raise it at claude.ai/settings/usage",
        "resets soon",
        "resets 3",
        "resets 13pm",
        "resets 0am",
        "resets 25:00",
        "resets 10:75",
        "resets Feb 30 at 1pm",
        "resets in 3 hours",
    ],
)
def test_a_message_without_a_readable_reset_gives_none(text):
    assert reset_from_text(text, utc(2026, 11, 22, 10), LONDON) is None


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(1, 12),
    minute=st.integers(0, 59),
    meridiem=st.sampled_from(["am", "pm"]),
    zone=st.sampled_from(["UTC", "Asia/Tokyo", "Asia/Kolkata"]),
)
def test_a_bare_reset_time_is_the_next_such_wall_clock_time_within_a_day(
    now, hour, minute, meridiem, zone
):
    message = f"You've hit your session limit · resets {hour}:{minute:02d}{meridiem} ({zone})"
    reset = reset_from_text(message, now, LONDON)
    local = reset.astimezone(ZoneInfo(zone))
    assert (local.hour % 12 or 12, local.minute) == (hour, minute)
    assert (local.hour >= 12) == (meridiem == "pm")
    assert now - timedelta(minutes=1) <= reset <= now + timedelta(days=1)


def test_a_reset_more_than_a_week_away_is_not_a_usage_window_reset_and_is_taken_as_unknown():
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert plausible_reset(now + timedelta(days=6, hours=23), now) == now + timedelta(days=6, hours=23)
    assert plausible_reset(now - timedelta(minutes=5), now) == now - timedelta(minutes=5)
    assert plausible_reset(reset_from_epoch(253402300799), now) is None  # 9999-12-31
    assert plausible_reset(None, now) is None
