"""A notification server on 127.0.0.1 for tests: it keeps what it is sent, answers as told, or hangs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
def notify_server() -> Iterator[NotifyServer]:
    serving = NotifyServer()
    yield serving
    serving.close()
