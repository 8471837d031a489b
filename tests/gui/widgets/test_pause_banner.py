"""The pause banner: why the queue is paused, in words, and the countdown to the resume time."""

import datetime as dt

import pytest

from app.core.queue import Pause, PauseReason
from app.gui.widgets.pause_banner import REASON_WORDS, PauseBanner


def test_the_pause_banner_counts_down_to_the_resume_time(qtbot):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    pause = Pause(PauseReason.RATE_LIMIT, now, now + dt.timedelta(minutes=12), "five-hour limit reached")
    banner.show_pause(pause, now)
    assert not banner.isHidden()
    assert "usage limit reached: five-hour limit reached" in banner.message.text()
    assert banner.countdown.text().startswith("resumes in 12 min 00 s")
    banner.refresh(now + dt.timedelta(minutes=11))
    assert banner.countdown.text().startswith("resumes in 1 min 00 s")
    banner.show_pause(None, now)
    assert banner.isHidden()


@pytest.mark.parametrize("reason", list(PauseReason))
def test_every_pause_reason_reads_as_words_in_the_banner(qtbot, reason):
    banner = PauseBanner()
    qtbot.addWidget(banner)
    now = dt.datetime.now(dt.UTC)
    banner.show_pause(Pause(reason, now, None, "details"), now)
    assert f"{REASON_WORDS[reason]}: details" in banner.message.text()
