"""Push notifications from a real engine to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.config import NotifyConfig
from app.core.queue import Status
from app.engine.events import EngineEvent
from app.engine.notify import send_trial
from tests.unit.engine.harness import Running, run, until

SECRET_TOPIC = "s3cret-topic-4711"


class NotifyServer:
    """Takes POSTs and keeps them; `answers` are the status codes of the next POSTs (then 200);
    `hang` holds every answer until released."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.hang = False
        self.hanging = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"] or 0))
                if server.hang:
                    server.hanging += 1
                    server.release.wait(60)
                    return
                status = server.answers.pop(0) if server.answers else 200
                server.received.append({"path": self.path, "headers": dict(self.headers),
                                        "body": body.decode(), "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/{SECRET_TOPIC}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def taken(self) -> list[dict[str, Any]]:
        return [request for request in self.received if request["status"] == 200]

    def close(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    serving = NotifyServer()
    yield serving
    serving.close()


def settings(server: NotifyServer, notify_format: str = "ntfy") -> dict[str, Any]:
    return {"notify": {"url": server.url, "format": notify_format}, "investigation": {"enabled": False}}


def report_written(completed: int, failed: int, needs_review: int, cost: float) -> EngineEvent:
    return EngineEvent("report.written", dt.datetime.now(dt.UTC),  # type: ignore[arg-type]
                       {"completed": completed, "failed": failed, "needs_review": needs_review, "cost": cost})


def assert_url_never_told(r: Running) -> None:
    told = "\n".join(json.dumps(event.to_json(), default=str) for event in r.events)
    assert SECRET_TOPIC not in told
    if r.home.log_file.exists():
        assert SECRET_TOPIC not in r.home.log_file.read_text()


@run
async def test_a_failed_job_and_a_drained_queue_reach_an_ntfy_server_as_plain_text_with_headers(tmp_path, server):
    async with Running(tmp_path, settings(server)) as r:
        r.prd("01-broken.md", "@fake max_turns\n")
        await until(lambda: r.status("01-broken") is Status.FAILED)
        await until(lambda: server.taken())
        r.engine.housekeeping.notifier.hear(report_written(14, 2, 1, 3.4))
        await until(lambda: len(server.taken()) == 2)
    failed, drained = server.taken()
    assert failed["path"] == f"/{SECRET_TOPIC}"
    assert failed["headers"]["Title"] == "Overnight: 01-broken failed"
    assert failed["headers"]["Priority"] == "high"
    assert failed["body"].startswith("01-broken failed: ")
    assert drained["body"] == "Overnight: queue finished — 14 completed, 2 failed, 1 needs review, $3.40"
    assert drained["headers"]["Tags"] == "checkered_flag"
    assert_url_never_told(r)


@run
async def test_the_json_format_posts_one_object_and_a_500_is_tried_again(tmp_path, server):
    server.answers = [500, 503]
    async with Running(tmp_path, settings(server, "json")) as r:
        r.engine.housekeeping.notifier.backoff = (0.05, 0.05)
        await r.engine.handle({"cmd": "pause"})
        await until(lambda: server.taken())
        await asyncio.sleep(0.3)  # a fourth POST would come now
    assert [request["status"] for request in server.received] == [500, 503, 200]
    sent = json.loads(server.taken()[0]["body"])
    assert set(sent) == {"event", "title", "message", "slug", "ts"}
    assert sent["event"] == "queue.paused"
    assert sent["title"] == "Overnight: queue paused (manual)"
    assert server.taken()[0]["headers"]["Content-Type"] == "application/json"
    assert not r.named("notify.failed")


@run
async def test_a_server_that_keeps_failing_is_a_notify_failed_event_without_the_url(tmp_path, server):
    server.answers = [500, 500, 500]
    async with Running(tmp_path, settings(server)) as r:
        r.engine.housekeeping.notifier.backoff = (0.05, 0.05)
        r.engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        failures = await until(lambda: r.named("notify.failed"))
    assert failures[0]["error"] == "the server answered 500 Internal Server Error"
    assert failures[0]["tries"] == 3
    assert len(server.received) == 3
    assert_url_never_told(r)


@run
async def test_a_refused_connection_is_reported_without_the_url(tmp_path, server):
    url = server.url
    server.close()
    async with Running(tmp_path, {"notify": {"url": url}}) as r:
        r.engine.housekeeping.notifier.backoff = (0.01, 0.01)
        r.engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        failures = await until(lambda: r.named("notify.failed"))
    assert "ConnectError" in failures[0]["error"]
    assert_url_never_told(r)


@run
async def test_a_hanging_server_neither_delays_a_job_nor_the_engine_stop(tmp_path, server):
    server.hang = True
    r = Running(tmp_path, settings(server))
    engine = await r.start()
    try:
        engine.housekeeping.notifier.hear(report_written(1, 0, 0, 0.5))
        await until(lambda: server.hanging)
        dropped = time.monotonic()
        r.prd("01-quick.md", '@fake text "done"\n')
        await until(lambda: r.named("job.started"))
        assert time.monotonic() - dropped < 5
        await until(lambda: r.status("01-quick") is Status.COMPLETED)
    finally:
        stopping = time.monotonic()
        await r.stop(stop_jobs=True)
    assert time.monotonic() - stopping < 5
    assert not server.taken()


@run
async def test_notifications_waiting_are_bounded_and_the_dropped_ones_are_counted(tmp_path, server):
    async with Running(tmp_path, settings(server)) as r:
        for completed in range(150):  # all heard before the sender takes the first
            r.engine.housekeeping.notifier.hear(report_written(completed, 0, 0, 0.5))
        await until(lambda: len(server.taken()) == 100)
        dropped = r.named("notify.failed")
    assert [failure["dropped"] for failure in dropped] == [50]
    assert server.taken()[0]["body"].startswith("Overnight: queue finished — 50 completed")


def test_the_settings_test_sends_one_notification_and_says_what_the_server_answered(server):
    answer = send_trial(NotifyConfig(url=server.url, format="ntfy"))
    assert answer == "the server answered 200 OK"
    assert server.taken()[0]["headers"]["Title"] == "Overnight: test notification"
    server.answers = [403]
    assert send_trial(NotifyConfig(url=server.url, format="json")) == "the server answered 403 Forbidden"


def test_the_settings_test_names_a_connection_error_without_the_url(server):
    url = server.url
    server.close()
    answer = send_trial(NotifyConfig(url=url))
    assert answer.startswith("not sent: ConnectError")
    assert SECRET_TOPIC not in answer
