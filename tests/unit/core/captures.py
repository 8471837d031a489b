"""The reference streams in tests/data, and builders of hand-made stream lines."""

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.core.outcome import ExitInfo, Outcome, RunSummary, classify
from app.core.stream import Event, StreamReader

DATA = Path(__file__).resolve().parents[2] / "data"
# One folder per tested CLI version (scripts/capture_streams.py writes them); 2.1.197's first
# five were captured against the real API, the rest against tests/fakes/.
VERSIONS = sorted(DATA.glob("cli-*"))
CAPTURES = sorted(DATA.glob("cli-*/*.jsonl"))
NOW = datetime(2026, 11, 22, 1, 45, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
MB = 1024 * 1024


def capture(name: str, version: Path = DATA / "cli-2.1.197") -> bytes:
    return (version / name).read_bytes()


def capture_lines(name: str) -> list[bytes]:
    return capture(name).splitlines(keepends=True)


def read_all(data: bytes, transcript: bool = True) -> list[Event]:
    reader = StreamReader(transcript=transcript)
    return reader.feed(data) + reader.finish()


def summarize(events: Iterable[Event]) -> RunSummary:
    summary = RunSummary()
    for event in events:
        summary.observe(event)
    return summary


def outcome_of(data: bytes, exit: ExitInfo, transcript: bool = True) -> Outcome:
    return classify(summarize(read_all(data, transcript)), exit, NOW, LONDON)


def line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def assistant_line(text: str, model: str = "claude-opus-4-8", **extra) -> bytes:
    message = {"model": model, "role": "assistant", "content": [{"type": "text", "text": text}]}
    return line({"type": "assistant", "message": message, **extra})


def result_line(subtype: str = "success", is_error: bool = False, **extra) -> bytes:
    fields = {"num_turns": 1, "duration_ms": 100, "total_cost_usd": 0.01, "result": "done"}
    return line({"type": "result", "subtype": subtype, "is_error": is_error, **fields, **extra})


def rejected_line(resets_at: int | None = 1795315495, limit_type: str = "five_hour") -> bytes:
    info = {"status": "rejected", "rateLimitType": limit_type, "isUsingOverage": False}
    if resets_at is not None:
        info["resetsAt"] = resets_at
    return line({"type": "rate_limit_event", "rate_limit_info": info})


INIT = capture_lines("success.jsonl")[0]
SUCCESS = result_line()


by_version = pytest.mark.parametrize("version", VERSIONS, ids=lambda p: p.name)
