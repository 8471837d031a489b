"""Push notifications sent (docs/BEHAVIOUR.md section 14). The engine's events are heard on its
loop and only queued there; one background task sends them, so a slow or hanging server never
holds up a scheduling pass. At most MAX_WAITING wait: past that the oldest are dropped and
counted. A notification that cannot be sent is the event `notify.failed`, never a stop of the
queue. The URL may hold a secret (an ntfy topic, a webhook token): it is never put in an event."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from app.config import NotifyConfig
from app.core.event_names import EventName
from app.core.notification import Notification, notification_for, request_for, trial_notification
from app.core.times import iso_ms
from app.engine.events import EngineEvent

if TYPE_CHECKING:
    from app.engine.engine import Engine

TIMEOUT = 10.0  # seconds one try may take, all of it
TRIES = 3
BACKOFF = (2.0, 8.0)  # seconds before the second and the third try
MAX_WAITING = 100
CLOSE_TIMEOUT = 1.0


class Notifier:
    """The notifications waiting to be sent, and the one task that sends them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: deque[Notification] = deque()
        self._wake = asyncio.Event()
        self._dropped = 0
        self.backoff = BACKOFF

    def hear(self, event: EngineEvent) -> None:
        """An engine listener: queues the notification an event is worth (never sends here)."""
        if not self._engine.config.notify.url:
            return
        note = notification_for(event.event, event.fields, iso_ms(event.ts))
        if note is None:
            return
        if len(self._waiting) >= MAX_WAITING:
            self._waiting.popleft()
            self._dropped += 1
        self._waiting.append(note)
        self._wake.set()

    async def run(self) -> None:
        """Sends what waits, one at a time, until cancelled (the engine's stop cancels it mid-try)."""
        await self._wake.wait()  # nothing is made while notifications are off
        # Off the loop: an HTTP client reads the system's certificates as it is made.
        client = await asyncio.to_thread(httpx.AsyncClient, timeout=TIMEOUT)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._waiting:
                    self._report_dropped()
                    note = self._waiting.popleft()
                    try:
                        await self._send(client, note)
                    except Exception as exc:  # a bug in one send must not end the sending of the next
                        self._engine.emit(EventName.ENGINE_ERROR, "error", where="notify", about=note.event,
                                          error=type(exc).__name__)  # its words might hold the URL
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await client.aclose()

    def _report_dropped(self) -> None:
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            self._engine.emit(EventName.NOTIFY_FAILED, "warning", dropped=dropped,
                              error=f"{dropped} notifications were dropped: the server took too long to take them")

    async def _send(self, client: httpx.AsyncClient, note: Notification) -> None:
        config = self._engine.config.notify  # the settings of now: a fixed URL takes effect at once
        if not config.url:
            return
        error = ""
        for attempt in range(TRIES):
            if attempt:
                await asyncio.sleep(self.backoff[attempt - 1])
            error = await _post(client, config, note)
            if not error:
                return
        self._engine.emit(EventName.NOTIFY_FAILED, "warning", about=note.event, slug=note.slug, tries=TRIES,
                          error=error)


async def _post(client: httpx.AsyncClient, config: NotifyConfig, note: Notification) -> str:
    """One try: "" when the server took it, else what went wrong (without the URL)."""
    request = request_for(note, config.format)
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the engine's stop when it
        # races the answer, and the sender would then wait for ever.
        async with asyncio.timeout(TIMEOUT):
            response = await client.post(config.url, headers=request.headers, content=request.body)
    except TimeoutError:
        return f"the server did not answer within {TIMEOUT:g} seconds"
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return _without_url(f"{type(exc).__name__}: {exc}", config.url)
    if response.is_success:
        return ""
    return f"the server answered {response.status_code} {response.reason_phrase}".rstrip()


def send_trial(config: NotifyConfig) -> tuple[bool, str]:
    """Blocking: one test notification, tried once. Whether the server took it, and its answer or
    why it could not be sent."""
    if not config.url:
        return False, "no URL is set: notifications are off"
    request = request_for(trial_notification(iso_ms(dt.datetime.now(dt.UTC))), config.format)
    try:
        response = httpx.post(config.url, headers=request.headers, content=request.body, timeout=TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return False, _without_url(f"not sent: {type(exc).__name__}: {exc}", config.url)
    return response.is_success, f"the server answered {response.status_code} {response.reason_phrase}".rstrip()


def _without_url(text: str, url: str) -> str:
    """An error's words with the URL, and its path that may be a secret topic, taken out."""
    parts = urlsplit(url)
    for secret in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.netloc):
        if len(secret) > 1:
            text = text.replace(secret, "<notify.url>")
    return text
