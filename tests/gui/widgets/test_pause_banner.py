"""The pause banner: why the queue is paused, in words, and the countdown to the resume time, on one line."""

import datetime as dt

import pytest

from app.core.gate import rate_limit_pause
from app.core.queue import Pause, PauseReason
from app.core.spend import source_pause
from app.gui.formatting import PAUSE_WORDS, format_clock
from app.gui.widgets.pause_banner import PauseBanner


def test_the_pause_banner_says_why_and_counts_down_to_the_resume_time(qtbot):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    pause = rate_limit_pause(now + dt.timedelta(minutes=22), "five_hour", 0, now)
    banner.show_pause(pause, now)
    assert not banner.isHidden()
    resume = format_clock(pause.resume_at, now)
    assert banner.message.full_text == f"Paused: usage limit · resumes {resume} (in 22 min)"
    later = now + dt.timedelta(minutes=21)  # past midnight, "Fri 00:04" reads "00:04"
    banner.refresh(later)
    assert banner.message.full_text.endswith(f"resumes {format_clock(pause.resume_at, later)} (in 1 min 00 s)")
    tip = banner.message.toolTip()
    assert "five-hour limit reached" in tip and "rate_limit" not in tip and "UTC" not in tip
    banner.show_pause(None, now)
    assert banner.isHidden()


def test_a_manual_pause_shows_the_user_s_own_words(qtbot):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    banner.show_pause(Pause(PauseReason.MANUAL, now, None, "lunch"), now)
    assert banner.message.full_text == "Paused: by you — lunch"


@pytest.mark.parametrize("reason", list(PauseReason))
def test_every_pause_reason_reads_as_words_never_as_its_code(qtbot, reason):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    banner.show_pause(Pause(reason, now, None, "details"), now)
    short, story = PAUSE_WORDS[reason]
    assert banner.message.full_text.startswith(f"Paused: {short}")
    assert story in banner.message.toolTip()
    assert f"reason: {reason.value}" not in banner.message.toolTip()


def test_a_spend_pause_gives_the_credential_and_its_fixes_in_the_tooltip(qtbot):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    banner.show_pause(source_pause("ANTHROPIC_API_KEY", now), now)
    assert banner.message.full_text == "Paused: API billing"
    tip = banner.message.toolTip()
    for words in ("billed per token through ANTHROPIC_API_KEY", "agent.env_remove", "spend.allow_api_billing: true"):
        assert words in tip
