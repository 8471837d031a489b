"""Which events are worth a push notification, and the request of each format (docs/BEHAVIOUR.md section 14)."""

import base64
import json

import pytest

from app.core.notification import notification_for, request_for

TS = "2026-12-03T02:14:00.000Z"


def test_a_drained_queue_tells_the_report_totals():
    note = notification_for("report.written", {"completed": 14, "failed": 2, "needs_review": 1, "cost": 3.4}, TS)

    assert note is not None
    assert note.message == "Overnight: queue finished — 14 completed, 2 failed, 1 needs review, $3.40"
    assert note.urgent


@pytest.mark.parametrize(("event", "fields", "title"), [
    ("job.finished", {"slug": "01-a", "outcome": "failed", "reason": "max turns"}, "Overnight: 01-a failed"),
    ("job.verified", {"slug": "01-a", "ok": False, "failed": "make test"}, "Overnight: 01-a failed"),
    ("job.needs_review", {"slug": "01-a", "reason": "merge conflict"}, "Overnight: 01-a needs review"),
    ("queue.paused", {"reason": "auth", "message": "log in again"}, "Overnight: queue paused (auth)"),
    ("queue.paused", {"reason": "manual", "message": "paused by you"}, "Overnight: queue paused (manual)"),
    ("queue.paused", {"reason": "spend", "message": "API billing"}, "Overnight: queue paused (spend)"),
])
def test_failures_reviews_and_pauses_that_need_the_user_are_notified(event, fields, title):
    note = notification_for(event, fields, TS)

    assert note is not None
    assert note.title == title
    assert note.urgent


@pytest.mark.parametrize(("event", "fields"), [
    ("job.finished", {"slug": "01-a", "outcome": "completed"}),
    ("job.finished", {"slug": "01-a", "outcome": "rate_limited"}),
    ("job.verified", {"slug": "01-a", "ok": True, "failed": None}),
    ("queue.paused", {"reason": "rate_limit"}),
    ("queue.paused", {"reason": "network"}),
    ("job.started", {"slug": "01-a"}),
])
def test_what_passes_on_its_own_is_not_notified(event, fields):
    assert notification_for(event, fields, TS) is None


def test_the_ntfy_request_is_plain_text_with_title_priority_and_tags():
    note = notification_for("job.needs_review", {"slug": "01-a", "reason": "conflict"}, TS)
    assert note is not None

    request = request_for(note, "ntfy")

    assert request.body.decode() == "01-a needs review: conflict"
    assert request.headers["Title"] == "Overnight: 01-a needs review"
    assert request.headers["Priority"] == "high"
    assert request.headers["Tags"] == "eyes"


def test_a_title_beyond_ascii_is_sent_as_an_encoded_word():
    note = notification_for("job.needs_review", {"slug": "01-café"}, TS)
    assert note is not None

    title = request_for(note, "ntfy").headers["Title"]

    assert title.isascii()
    assert base64.b64decode(title.removeprefix("=?UTF-8?B?").removesuffix("?=")).decode() == note.title


def test_the_json_request_is_one_object_with_the_five_fields():
    note = notification_for("job.finished", {"slug": "01-a", "outcome": "failed", "reason": "exit 1"}, TS)
    assert note is not None

    sent = json.loads(request_for(note, "json").body)

    assert sent == {"event": "job.finished", "title": "Overnight: 01-a failed", "message": "01-a failed: exit 1",
                    "slug": "01-a", "ts": TS}


def test_a_failure_s_reason_reads_as_words_not_as_the_cli_s_names():
    note = notification_for("job.finished", {"slug": "01-a", "outcome": "failed",
                                             "reason": "error_max_turns: Reached maximum number of turns (30)"}, TS)
    assert note is not None
    assert note.message == "01-a failed: stopped at the turn limit: Reached maximum number of turns (30)"
