"""Push notifications (docs/BEHAVIOUR.md section 14): which engine events are worth a message on
the user's phone, the words of that message, and the HTTP request that carries it in either
format (`ntfy`: plain text with Title, Priority and Tags headers; `json`: one object for webhook
relays). Sending it is app.engine.notify's."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.event_names import EventName
from app.core.text import plain_names, shorten

# Pauses the queue stays in until the user acts. A manual pause counts: it may have been made
# from the command line on another machine, and it is worth knowing the queue stopped.
PAUSES_THAT_NEED_THE_USER = frozenset({"manual", "auth", "state", "spend", "setup", "disk"})
MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Notification:
    event: str  # the engine event it tells of
    title: str
    message: str
    slug: str | None
    ts: str  # ISO-8601, the moment of the event
    urgent: bool = False  # something failed or waits for the user
    tag: str = "information_source"  # an emoji short code ntfy shows beside the title


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]
    body: bytes


def notification_for(event: str, fields: Mapping[str, Any], ts: str) -> Notification | None:
    """The notification an engine event is worth, or None for the many that are not."""
    slug = fields.get("slug")
    reason = shorten(plain_names(str(fields.get("reason") or "")), MESSAGE_CHARS)
    if event == EventName.REPORT_WRITTEN:
        failed, review = _count(fields, "failed"), _count(fields, "needs_review")
        totals = [f"{_count(fields, 'completed')} completed", f"{failed} failed", f"{review} needs review"]
        cost = fields.get("cost")
        if isinstance(cost, int | float):
            totals.append(f"${cost:.2f}")
        return Notification(event, "Overnight: queue finished", f"Overnight: queue finished — {', '.join(totals)}",
                            None, ts, urgent=bool(failed or review), tag="checkered_flag")
    if event == "job.finished" and fields.get("outcome") == "failed":
        return Notification(event, f"Overnight: {slug} failed", _sentence(f"{slug} failed", reason), slug, ts,
                            urgent=True, tag="x")
    if event == "job.verified" and fields.get("ok") is False:  # the run completed, its verify failed the job
        detail = f"its verify command `{fields['failed']}` failed" if fields.get("failed") else "its verify failed"
        return Notification(event, f"Overnight: {slug} failed", f"{slug} failed: {detail}", slug, ts,
                            urgent=True, tag="x")
    if event == "job.needs_review":
        return Notification(event, f"Overnight: {slug} needs review", _sentence(f"{slug} needs review", reason),
                            slug, ts, urgent=True, tag="eyes")
    if event == "queue.paused" and fields.get("reason") in PAUSES_THAT_NEED_THE_USER:
        message = shorten(str(fields.get("message") or ""), MESSAGE_CHARS)
        return Notification(event, f"Overnight: queue paused ({fields['reason']})",
                            _sentence("The queue is paused and waits for you", message), None, ts,
                            urgent=True, tag="pause_button")
    return None


def request_for(note: Notification, notify_format: str) -> Request:
    """The POST's headers and body in `notify_format` (ntfy or json)."""
    if notify_format == "json":
        body = {"event": note.event, "title": note.title, "message": note.message, "slug": note.slug, "ts": note.ts}
        return Request({"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False).encode())
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": _header_text(note.title),
        "Priority": "high" if note.urgent else "default",
        "Tags": note.tag,
    }
    return Request(headers, note.message.encode())


def trial_notification(ts: str) -> Notification:
    """What the settings' test button sends."""
    return Notification("notify.test", "Overnight: test notification",
                        "Overnight can reach you here: this is where it tells you when the queue needs you.",
                        None, ts)


def _count(fields: Mapping[str, Any], key: str) -> int:
    value = fields.get(key)
    return value if isinstance(value, int) else 0


def _sentence(subject: str, detail: str) -> str:
    return f"{subject}: {detail}" if detail else subject


def _header_text(text: str) -> str:
    """HTTP headers carry ASCII: other text goes as an RFC 2047 word, which ntfy decodes."""
    if text.isascii():
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="

