"""Runs cut short continue their session (docs/BEHAVIOUR.md section 15), end to end: `overnight
run` driving the real Claude Code CLI, which stores its sessions under ~/.claude/projects/ and
sends the whole earlier conversation again when it resumes one, against the fake Anthropic API.
Each journey runs on every tested CLI version: how a session is resumed is the CLI's own."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import psutil

from tests.e2e.test_journeys import MESSAGES, Overnight
from tests.support import processes_with_marker, wait_until


def two_writes(between: str) -> str:
    """A PRD whose agent writes one file, meets `between`, then writes the other."""
    return ('@agent write {"file_path": "one.txt", "content": "first half"}\n'
            f"{between}\n"
            '@agent write {"file_path": "two.txt", "content": "second half"}\n'
            '@agent text "both halves written"\n')


def meta(o: Overnight, run_id: str, slug: str) -> dict[str, Any]:
    return json.loads((o.home.run_dir(run_id) / f"{slug}.meta.json").read_text())


def session_of(o: Overnight, run_id: str, slug: str) -> str:
    init = json.loads((o.home.run_dir(run_id) / f"{slug}.jsonl").read_text().splitlines()[0])
    assert init["subtype"] == "init"
    return init["session_id"]


def scripted_turns(o: Overnight) -> list[dict[str, Any]]:
    """The agent's requests (the CLI's side requests have no tools)."""
    return [r.body for r in o.fake.requests_to(MESSAGES) if r.body.get("tools")]


def tool_inputs(body: dict[str, Any]) -> list[str]:
    return [block["input"].get("file_path", "") for message in body["messages"] if message["role"] == "assistant"
            and isinstance(message["content"], list) for block in message["content"] if block["type"] == "tool_use"]


def user_texts(body: dict[str, Any]) -> list[str]:
    return [block.get("text", "") for message in body["messages"] if message["role"] == "user"
            and isinstance(message["content"], list) for block in message["content"] if block["type"] == "text"]


def stored_messages(o: Overnight, session: str) -> bool:
    """The CLI has stored messages of this session (where it keeps them: ~/.claude/projects/)."""
    stored = (o.user / ".claude" / "projects").glob(f"*/{session}.jsonl")
    return any('"type":"user"' in path.read_text() for path in stored)


def test_a_job_limited_mid_task_continues_its_session_after_the_reset_and_completes(overnight):
    o = overnight()
    o.prd("01-halves.md", two_writes('@agent ratelimit {"reset_in": 6}'))
    assert o.run_until_idle(timeout=120) == 0

    first, second = o.named("job.started")
    assert first["resumedFrom"] is None and second["resumedFrom"] == first["runId"]
    limited = o.wait_event("job.finished", runId=first["runId"])
    assert limited["outcome"] == "rate_limited"
    session = session_of(o, first["runId"], "01-halves")
    argv = meta(o, second["runId"], "01-halves")["argv"]
    assert argv[argv.index("--resume") + 1] == session
    assert session_of(o, second["runId"], "01-halves") == session

    # The resumed request carried the earlier conversation (the first write) and the continuation.
    resumed = [body for body in scripted_turns(o) if any("interrupted" in text for text in user_texts(body))]
    assert resumed, "no request carried the continuation prompt"
    assert any(path.endswith("one.txt") for path in tool_inputs(resumed[0]))
    continuation = next(text for text in user_texts(resumed[0]) if "interrupted" in text)
    assert "usage limit" in continuation and '@agent write {"file_path": "two.txt"' in continuation

    assert (o.project / "one.txt").read_text() == "first half"
    assert (o.project / "two.txt").read_text() == "second half"
    job = o.jobs()["01-halves"]
    assert job["status"] == "completed"
    assert job["last"]["resumedFrom"] == first["runId"] and job["last"]["sessionId"] == session
    assert [run["runId"] for run in job["earlierRuns"]] == [first["runId"]]
    runs = [h for h in o.history() if h["event"] == "run.finished"]
    assert [(h["outcome"], h["sessionId"], h["resumedFrom"]) for h in runs] == [
        ("rate_limited", session, None), ("completed", session, first["runId"])]


def test_a_session_the_cli_no_longer_has_is_started_fresh_at_once(overnight):
    o = overnight()
    o.prd("01-halves.md", two_writes('@agent ratelimit {"reset_in": 6}'))
    o.start("--until-idle")
    first = o.wait_event("job.started")
    o.wait_event("queue.paused", reason="rate_limit", timeout=90)
    session = session_of(o, first["runId"], "01-halves")
    stored = list((o.user / ".claude" / "projects").glob(f"*/{session}.jsonl"))
    assert stored, "the CLI did not store the session where it keeps them"
    for path in stored:  # the user (or the CLI's own clean-up) removed it before the reset
        path.unlink()
    assert o.process is not None and o.process.wait(120) == 0

    started = o.named("job.started")
    assert [s["resumedFrom"] for s in started] == [None, first["runId"], None]
    runs = [h for h in o.history() if h["event"] == "run.finished"]
    assert [(h["runId"], h["status"]) for h in runs] == [
        (first["runId"], "pending"), (started[1]["runId"], "pending"), (started[2]["runId"], "completed")]
    assert f"could not continue the session of run {first['runId']}" in runs[1]["reason"]
    assert "starts fresh" in runs[1]["reason"]
    job = o.jobs()["01-halves"]
    assert job["status"] == "completed" and job["last"]["resumedFrom"] is None
    # The fresh start was asked the PRD itself, not to continue.
    fresh = scripted_turns(o)[-1]
    assert not any("interrupted" in text for text in user_texts(fresh))
    assert (o.project / "two.txt").read_text() == "second half"


def test_a_run_cut_short_with_the_engine_continues_its_session_when_overnight_starts_again(overnight):
    o = overnight()
    o.prd("01-halves.md", two_writes("@agent sleep 8"))
    engine = o.start()
    started = o.wait_event("job.started")
    wait_until(lambda: (o.project / "one.txt").exists(), timeout=60)
    session = session_of(o, started["runId"], "01-halves")
    # The CLI stores a session's messages as it goes, but not always at once (2.1.197 may hold them
    # to its exit): a session killed before they are stored cannot be resumed.
    deadline = time.monotonic() + 5
    while not stored_messages(o, session) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The machine went down: the engine and the agent die together, with no result written.
    engine.send_signal(signal.SIGKILL)
    engine.wait(10)
    marker = f"{started['runId']}/01-halves"
    for pid in processes_with_marker(marker):
        psutil.Process(pid).kill()
    wait_until(lambda: not processes_with_marker(marker), timeout=10)
    stored = stored_messages(o, session)

    assert o.run_until_idle(timeout=120) == 0
    first, second, *fresh = o.named("job.started")
    assert second["resumedFrom"] == first["runId"]
    argv = meta(o, second["runId"], "01-halves")["argv"]
    assert argv[argv.index("--resume") + 1] == session
    runs = {h["runId"]: h for h in o.history() if h["event"] == "run.finished"}
    interrupted = runs[first["runId"]]
    assert interrupted["status"] == "pending" and "continues where it stopped" in interrupted["reason"]
    if stored:
        assert fresh == [] and runs[second["runId"]]["status"] == "completed"
    else:
        assert "No conversation found" in runs[second["runId"]]["reason"]
        assert [s["resumedFrom"] for s in fresh] == [None]
    job = o.jobs()["01-halves"]
    assert job["status"] == "completed"
    assert (o.project / "two.txt").read_text() == "second half"


def test_a_resumed_run_that_meets_the_limit_again_continues_again_after_the_next_reset(overnight):
    o = overnight()
    o.prd("01-thirds.md", '@agent write {"file_path": "one.txt", "content": "1"}\n'
                          '@agent ratelimit {"reset_in": 4}\n'
                          '@agent write {"file_path": "two.txt", "content": "2"}\n'
                          '@agent ratelimit {"reset_in": 4}\n'
                          '@agent write {"file_path": "three.txt", "content": "3"}\n@agent text "all three"\n')
    assert o.run_until_idle(timeout=120) == 0
    first, second, third = o.named("job.started")
    assert (second["resumedFrom"], third["resumedFrom"]) == (first["runId"], second["runId"])
    assert len(o.named("queue.paused")) == 2  # each limit waited for its own reset
    sessions = {session_of(o, run["runId"], "01-thirds") for run in (first, second, third)}
    assert len(sessions) == 1
    job = o.jobs()["01-thirds"]
    assert job["status"] == "completed" and job["resumes"] == 0  # counted again from the next fresh start
    assert [(o.project / name).read_text() for name in ("one.txt", "two.txt", "three.txt")] == ["1", "2", "3"]
