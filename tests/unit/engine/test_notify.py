"""Push notifications from a real engine to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from app.config import NotifyConfig
from app.core.queue import Status
from app.engine.events import EngineEvent
from app.engine.notify import send_trial
from tests.notify_server import SECRET_TOPIC, NotifyServer
from tests.unit.engine.harness import Running, run, until


def settings(notify_server: NotifyServer, notify_format: str = "ntfy") -> dict[str, Any]:
    return {"notify": {"url": notify_server.url, "format": notify_format}, "investigation": {"enabled": False}}


def report_written(completed: int, failed: int, needs_review: int, cost: float) -> EngineEvent:
    return EngineEvent("report.written", dt.datetime.now(dt.UTC),  # type: ignore[arg-type]
                       {"completed": completed, "failed": failed, "needs_review": needs_review, "cost": cost})


def assert_url_never_told(r: Running) -> None:
    told = "\n".join(json.dumps(event.to_json(), default=str) for event in r.events)
    assert SECRET_TOPIC not in told
    if r.home.log_file.exists():
        assert SECRET_TOPIC not in r.home.log_file.read_text()


@run
async def test_a_failed_job_and_a_drained_queue_reach_an_ntfy_server_as_plain_text_with_headers(
        tmp_path, notify_server):
    async with Running(tmp_path, settings(notify_server)) as r:
        r.prd("01-broken.md", "@fake max_turns\n")
        await until(lambda: r.status("01-broken") is Status.FAILED)
        await until(lambda: notify_server.taken())
        r.engine.housekeeping.notifier.hear(report_written(14, 2, 1, 3.4))
        await until(lambda: len(notify_server.taken()) == 2)
    failed, drained = notify_server.taken()
    assert failed["path"] == f"/{SECRET_TOPIC}"
    assert failed["headers"]["Title"] == "Overnight: 01-broken failed"
    assert failed["headers"]["Priority"] == "high"
    assert failed["body"].startswith("01-broken failed: ")
    assert drained["body"] == "Overnight: queue finished — 14 completed, 2 failed, 1 needs review, $3.40"
    assert drained["headers"]["Tags"] == "checkered_flag"
    assert_url_never_told(r)


@run
async def test_a_completed_run_whose_verify_fails_is_notified_once_as_a_failure(tmp_path, notify_server):
    config = {**settings(notify_server, "json"), "workspace": {"verify": ["exit 3"]}}
    async with Running(tmp_path, config) as r:
        r.prd("01-unchecked.md", '@fake text "done"\n')
        await until(lambda: r.status("01-unchecked") is Status.FAILED)
        await until(lambda: notify_server.taken())
        await asyncio.sleep(0.3)  # a second notification about the job would come now
    sent = [json.loads(request["body"]) for request in notify_server.taken()]
    assert [(note["event"], note["message"]) for note in sent] == [
        ("job.verified", "01-unchecked failed: its verify command `exit 3` failed")]


@run
async def test_the_json_format_posts_one_object_and_a_500_is_tried_again(tmp_path, notify_server):
    notify_server.answers = [500, 503]
    async with Running(tmp_path, settings(notify_server, "json")) as r:
        r.engine.housekeeping.notifier.backoff = (0.05, 0.05)
        await r.engine.handle({"cmd": "pause"})
        await until(lambda: notify_server.taken())
        await asyncio.sleep(0.3)  # a fourth POST would come now
    assert [request["status"] for request in notify_server.received] == [500, 503, 200]
    sent = json.loads(notify_server.taken()[0]["body"])
    assert set(sent) == {"event", "title", "message", "slug", "ts"}
    assert sent["event"] == "queue.paused"
    assert sent["title"] == "Overnight: queue paused (manual)"
    assert notify_server.taken()[0]["headers"]["Content-Type"] == "application/json"
    assert not r.named("notify.failed")


@run
async def test_a_server_that_keeps_failing_is_a_notify_failed_event_without_the_url(tmp_path, notify_server):
    notify_server.answers = [500, 500, 500]
    async with Running(tmp_path, settings(notify_server)) as r:
        r.engine.housekeeping.notifier.backoff = (0.05, 0.05)
        r.engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        failures = await until(lambda: r.named("notify.failed"))
    assert failures[0]["error"] == "the server answered 500 Internal Server Error"
    assert failures[0]["tries"] == 3
    assert len(notify_server.received) == 3
    assert_url_never_told(r)


@run
async def test_a_refused_connection_is_reported_without_the_url(tmp_path, notify_server):
    url = notify_server.url
    notify_server.close()
    async with Running(tmp_path, {"notify": {"url": url}}) as r:
        r.engine.housekeeping.notifier.backoff = (0.01, 0.01)
        r.engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        failures = await until(lambda: r.named("notify.failed"))
    assert "ConnectError" in failures[0]["error"]
    assert_url_never_told(r)


@run
async def test_a_hanging_server_neither_delays_a_job_nor_the_engine_stop(tmp_path, notify_server):
    notify_server.hang = True
    r = Running(tmp_path, settings(notify_server))
    engine = await r.start()
    try:
        engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        await until(lambda: notify_server.hanging)
        dropped = time.monotonic()
        r.prd("01-quick.md", '@fake text "done"\n')
        await until(lambda: r.named("job.started"))
        assert time.monotonic() - dropped < 5
        await until(lambda: r.status("01-quick") is Status.COMPLETED)
    finally:
        stopping = time.monotonic()
        await r.stop(stop_jobs=True)
    assert time.monotonic() - stopping < 5
    assert not notify_server.taken()


@run
async def test_notifications_waiting_are_bounded_and_the_dropped_ones_are_counted(tmp_path, notify_server):
    async with Running(tmp_path, settings(notify_server)) as r:
        for completed in range(150):  # all heard before the sender takes the first
            r.engine.housekeeping.notifier.hear(report_written(completed, 0, 0, 0.5))
        await until(lambda: len(notify_server.taken()) == 100)
        dropped = r.named("notify.failed")
    assert [failure["dropped"] for failure in dropped] == [50]
    assert notify_server.taken()[0]["body"].startswith("Overnight: queue finished — 50 completed")


def test_the_settings_test_sends_one_notification_and_says_what_the_server_answered(notify_server):
    assert send_trial(NotifyConfig(url=notify_server.url, format="ntfy")) == (True, "the server answered 200 OK")
    assert notify_server.taken()[0]["headers"]["Title"] == "Overnight: test notification"
    notify_server.answers = [403]
    answer = send_trial(NotifyConfig(url=notify_server.url, format="json"))
    assert answer == (False, "the server answered 403 Forbidden")


def test_the_settings_test_names_a_connection_error_without_the_url(notify_server):
    url = notify_server.url
    notify_server.close()
    sent, answer = send_trial(NotifyConfig(url=url))
    assert not sent
    assert answer.startswith("not sent: ConnectError")
    assert SECRET_TOPIC not in answer
