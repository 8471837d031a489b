import itertools
import json
import time
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.outcome import ExitInfo, classify
from app.core.stream import (
    ApiRetry,
    AssistantText,
    Event,
    Init,
    RateLimit,
    Result,
    StreamReader,
    ToolResult,
    ToolUse,
    Unparsed,
)
from app.core.transcript import describe_tool_call, render_text

from .captures import (
    CAPTURES,
    INIT,
    LONDON,
    MB,
    NOW,
    SUCCESS,
    assistant_line,
    by_version,
    capture,
    capture_lines,
    line,
    outcome_of,
    read_all,
    summarize,
)


def read_in_chunks(chunks: Iterable[bytes], transcript: bool = True) -> list[Event]:
    reader = StreamReader(transcript=transcript)
    events = [event for chunk in chunks for event in reader.feed(chunk)]
    return events + reader.finish()


# The real CLI's output


def test_a_write_and_its_successful_result_are_read_from_the_real_cli_output():
    events = read_all(capture("tool_write.jsonl"))
    assert events[0] == Init(
        session_id="57673d30-ac05-49da-9b82-2961fffea13c",
        model="claude-opus-4-8[1m]",
        cwd="/home/user/project",
        version="2.1.197",
        api_key_source="none",
    )
    tool_uses = [e for e in events if isinstance(e, ToolUse)]
    assert [(t.name, t.input["file_path"]) for t in tool_uses] == [
        ("Write", "/home/user/project/notes.txt")
    ]
    [tool_result] = [e for e in events if isinstance(e, ToolResult)]
    assert tool_result.tool_use_id == tool_uses[0].id
    assert not tool_result.is_error
    assert tool_result.content.startswith("File created successfully")
    assert AssistantText("done (write)", synthetic=False) in events
    result = events[-1]
    assert isinstance(result, Result)
    assert (result.subtype, result.is_error, result.num_turns) == ("success", False, 2)
    assert result.total_cost_usd == pytest.approx(0.00047)
    assert (result.text, result.terminal_reason) == ("done (write)", "completed")


def test_the_subscription_limit_capture_carries_the_rejection_notice_and_a_429_result():
    events = read_all(capture("rate_limited_subscription.jsonl"))
    assert RateLimit("rejected", 1795315495, "five_hour", False) in events
    notice = "You've hit your session limit · resets 2:44am (UTC)"
    assert AssistantText(notice, synthetic=True) in events
    result = events[-1]
    assert isinstance(result, Result)
    assert (result.subtype, result.is_error, result.api_error_status) == ("success", True, 429)


# Every tested version: what Overnight relies on, whatever the wording


@by_version
def test_a_write_is_a_tool_call_with_its_file_and_a_result_of_two_turns(version):
    events = read_all(capture("tool_write.jsonl", version))
    init = events[0]
    assert isinstance(init, Init) and init.version == version.name.removeprefix("cli-") and init.session_id
    [write] = [e for e in events if isinstance(e, ToolUse)]
    assert (write.name, write.input["file_path"]) == ("Write", "/home/user/project/notes.txt")
    [tool_result] = [e for e in events if isinstance(e, ToolResult)]
    assert tool_result.tool_use_id == write.id and not tool_result.is_error
    result = events[-1]
    assert isinstance(result, Result)
    assert (result.subtype, result.is_error, result.num_turns, result.text) == ("success", False, 2, "done (write)")


@by_version
def test_a_resumed_session_continues_the_same_session_id(version):
    before = read_all(capture("session_before_resume.jsonl", version))
    resumed = read_all(capture("resumed_session.jsonl", version))
    assert isinstance(before[0], Init) and isinstance(resumed[0], Init)
    assert resumed[0].session_id == before[0].session_id


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_capture_is_read_whole_without_skipped_lines(path):
    data = path.read_bytes()
    reader = StreamReader()
    events = reader.feed(data)
    assert (reader.consumed, reader.skipped) == (len(data), 0)
    assert isinstance(events[-1], Result)
    assert isinstance(events[0], Init) or path.name == "resume_unknown_session.jsonl"
    assert reader.finish() == []


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_classification_mode_decides_every_real_capture_as_the_full_reader_does(path):
    exit = ExitInfo(returncode=1)
    assert outcome_of(path.read_bytes(), exit, False) == outcome_of(path.read_bytes(), exit)


def test_classification_mode_skips_the_transcript_but_keeps_what_decides_the_outcome():
    data = capture("rate_limited_subscription.jsonl") + capture("tool_write.jsonl")
    events = read_all(data, transcript=False)
    assert not any(isinstance(e, ToolUse | ToolResult) for e in events)
    assert [e for e in events if isinstance(e, AssistantText)] == [
        AssistantText("You've hit your session limit · resets 2:44am (UTC)", synthetic=True)
    ]
    assert [type(e) for e in events if not isinstance(e, AssistantText)] == [
        Init,
        RateLimit,
        Result,
        Init,
        RateLimit,
        Result,
    ]


def test_classification_mode_decodes_lines_not_in_the_cli_s_compact_form():
    block = {"type": "tool_result", "tool_use_id": "t", "content": "x"}
    spaced = json.dumps({"type": "user", "message": {"content": [block]}}).encode() + b"\n"
    assert spaced.startswith(b'{"type": "user"')
    assert read_all(spaced, transcript=False) == [ToolResult("t", "x", False)]


# Chunking: the same events however the bytes arrive


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_capture_fed_byte_by_byte_gives_the_same_events(path):
    data = path.read_bytes()
    one_byte_chunks = (data[i : i + 1] for i in range(len(data)))
    assert read_in_chunks(one_byte_chunks) == read_all(data)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(CAPTURES),
    cuts=st.lists(st.integers(min_value=0), max_size=40),
    transcript=st.booleans(),
)
def test_a_capture_fed_in_random_chunks_gives_the_same_events(path, cuts, transcript):
    data = path.read_bytes()
    assert read_in_chunks(split_at(data, cuts), transcript) == read_all(data, transcript)


damaged_lines = st.one_of(
    st.sampled_from([line for path in CAPTURES for line in path.read_bytes().splitlines()]),
    st.sampled_from([b"", b"  ", b"\r", b"not json", b"[1, 2]", b"42", b'{"type":"result"']),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(damaged_lines, max_size=12),
    ending=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
    transcript=st.booleans(),
)
def test_any_stream_fed_in_any_chunks_gives_the_same_events_and_offsets(
    lines, ending, cuts, transcript
):
    data = b"\n".join(lines) + b"\n" + ending
    whole = StreamReader(transcript)
    expected = whole.feed(data)
    chunked = StreamReader(transcript)
    events = [event for chunk in split_at(data, cuts) for event in chunked.feed(chunk)]
    assert events == expected
    assert chunked.consumed == whole.consumed == len(data) - len(ending)
    assert chunked.skipped == whole.skipped
    assert chunked.finish() == whole.finish()


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(CAPTURES), stop=st.integers(min_value=0))
def test_a_reader_restarted_at_the_saved_offset_misses_and_repeats_nothing(path, stop):
    data = path.read_bytes()
    first = StreamReader()
    before = first.feed(data[: stop % (len(data) + 1)])
    after = read_all(data[first.consumed :])
    assert before + after == read_all(data)


# Damaged streams


def test_two_json_objects_spliced_on_one_line_are_skipped_and_counted():
    spliced = SUCCESS.rstrip(b"\n") + INIT
    reader = StreamReader()
    events = reader.feed(INIT + spliced + SUCCESS)
    assert reader.skipped == 1
    assert [type(e) for e in events] == [Init, Unparsed, Result]
    assert summarize(events).skipped == 1


def test_garbage_lines_are_kept_as_unparsed_text_and_counted():
    reader = StreamReader()
    events = reader.feed(b"Error: connect ECONNREFUSED\n[1, 2]\n42\n" + SUCCESS)
    assert events[:3] == [
        Unparsed("Error: connect ECONNREFUSED"),
        Unparsed("[1, 2]"),
        Unparsed("42"),
    ]
    assert reader.skipped == 3


def test_a_very_long_garbage_line_keeps_only_its_first_500_characters():
    [event] = read_all(b"x" * 10_000 + b"\n")
    assert event == Unparsed("x" * 500)


def test_a_line_that_is_not_utf8_is_skipped_without_raising():
    reader = StreamReader()
    events = reader.feed(b'{"type":"result","result":"\xff\xfe"}\n' + SUCCESS)
    assert reader.skipped == 1
    assert isinstance(events[0], Unparsed) and "\ufffd" in events[0].text
    assert isinstance(events[1], Result)


def test_a_pathologically_nested_line_is_skipped_without_raising():
    reader = StreamReader()
    events = reader.feed(b"[" * 100_000 + b"\n" + b'{"a":' * 100_000 + b"\n" + SUCCESS)
    assert reader.skipped == 2
    assert isinstance(events[-1], Result)


def test_a_truncated_last_line_is_read_only_when_the_writer_has_finished():
    reader = StreamReader()
    assert reader.feed(INIT + SUCCESS.rstrip(b"\n")) == [read_all(INIT)[0]]
    assert reader.consumed == len(INIT)
    [result] = reader.finish()
    assert isinstance(result, Result)
    assert reader.consumed == len(INIT + SUCCESS) - 1


def test_empty_and_blank_lines_are_neither_events_nor_skipped():
    reader = StreamReader()
    events = reader.feed(b"\n\n   \n\r\n" + SUCCESS.replace(b"\n", b"\r\n") + b"\n")
    assert [type(e) for e in events] == [Result]
    assert reader.skipped == 0


def test_unknown_event_types_and_subtypes_are_ignored():
    reader = StreamReader()
    events = reader.feed(
        line({"type": "stream_event", "event": {"type": "message_start"}})
        + line({"type": "system", "subtype": "hook_response", "output": ""})
        + line({"subtype": "init"})
        + line({"type": ["result"]})
    )
    assert events == []
    assert reader.skipped == 0


FIVE_MB_TEXT = "a" * (5 * MB)
FIVE_MB_LINE = assistant_line(FIVE_MB_TEXT)


def test_a_5_mb_line_split_in_64_kib_chunks_is_one_event():
    data = FIVE_MB_LINE
    reader = StreamReader()
    chunks = [data[i : i + 64 * 1024] for i in range(0, len(data), 64 * 1024)]
    events = [event for chunk in chunks for event in reader.feed(chunk)]
    assert events == [AssistantText(FIVE_MB_TEXT, synthetic=False)]
    assert reader.consumed == len(data)


def test_a_5_mb_line_fed_in_small_chunks_is_read_in_linear_time():
    data = FIVE_MB_LINE
    reader = StreamReader(transcript=False)
    started = time.perf_counter()
    for i in range(0, len(data), 512):
        reader.feed(data[i : i + 512])
    elapsed = time.perf_counter() - started
    assert reader.consumed == len(data)
    assert elapsed < 3, f"10240 chunks of one line took {elapsed:.1f} s: the buffer is rescanned"


# Other events


def test_an_api_retry_is_read_with_its_status_and_delay():
    events = read_all(
        line(
            {
                "type": "system",
                "subtype": "api_retry",
                "attempt": 2,
                "max_retries": 10,
                "retry_delay_ms": 1150.5,
                "error_status": 529,
                "error": "overloaded",
            }
        )
        + line({"type": "system", "subtype": "api_retry", "attempt": "x", "error_status": None})
    )
    assert events == [ApiRetry(2, 10, 529, 1150.5), ApiRetry(None, None, None, None)]
    assert render_text(events[:1]) == "API retry 2/10 after 529, next try in 1.2 s"


def test_a_tool_result_made_of_blocks_is_flattened_to_its_text():
    content = [
        {"type": "text", "text": "first"},
        {"type": "image", "source": {}},
        {"type": "text", "text": "second"},
    ]
    block = {"type": "tool_result", "tool_use_id": "t1", "content": content, "is_error": True}
    events = read_all(line({"type": "user", "message": {"role": "user", "content": [block]}}))
    assert events == [ToolResult("t1", "first\nsecond", True)]
    assert render_text(events) == "← error: first second"


def test_assistant_text_blocks_and_tool_calls_keep_their_order():
    message = {
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "hm"},
            {"type": "text", "text": "I will list files."},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls -la"}},
            {"type": "text", "text": "Then read one."},
        ],
    }
    events = read_all(line({"type": "assistant", "message": message}))
    assert events == [
        AssistantText("I will list files.", False),
        ToolUse("t1", "Bash", {"command": "ls -la"}),
        AssistantText("Then read one.", False),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    [
        "type",
        "subtype",
        "message",
        "content",
        "model",
        "text",
        "name",
        "input",
        "id",
        "error",
        "tool_use_id",
        "is_error",
        "rate_limit_info",
        "status",
        "resetsAt",
        "rateLimitType",
        "result",
        "errors",
        "num_turns",
        "total_cost_usd",
        "duration_ms",
        "api_error_status",
        "attempt",
        "retry_delay_ms",
        "todos",
        "file_path",
        "command",
    ]
)
event_types = st.sampled_from(["system", "assistant", "user", "rate_limit_event", "result"])


def wild_objects(depth: int = 2):
    children = (
        json_values
        if depth == 0
        else st.one_of(
            json_values, wild_objects(depth - 1), st.lists(wild_objects(depth - 1), max_size=3)
        )
    )
    return st.dictionaries(field_names, children, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=event_types,
    subtype=st.sampled_from(["init", "api_retry", "success", "x"]),
    body=wild_objects(),
)
def test_wrongly_typed_fields_never_raise_anywhere(kind, subtype, body):
    data = line({"type": kind, "subtype": subtype, **body})
    for transcript in (True, False):
        events = read_all(data, transcript)
        render_text(events)
        for event in events:
            if isinstance(event, ToolUse):
                describe_tool_call(event.name, event.input)
        summary = summarize(events)
        for exit in (ExitInfo(returncode=1), ExitInfo(returncode=None, watchdog="idle")):
            assert classify(summary, exit, NOW, LONDON).kind in {
                "completed",
                "failed",
                "rate_limited",
            }


# Throughput (printed with -s; not a timed assertion)


def realistic_stream(size: int) -> bytes:
    init, tool_call, rate_limit, tool_result, text, result = capture_lines("tool_write.jsonl")
    turn = tool_call + tool_result + text
    return init + rate_limit + turn * (size // len(turn)) + result


def throughput(data: bytes, transcript: bool) -> tuple[float, list[Event]]:
    """MB per CPU second (the tailing budget is a share of a core), best of three."""
    chunk = 64 * 1024
    best = 0.0
    for _ in range(3):
        reader = StreamReader(transcript=transcript)
        started = time.process_time()
        events = [e for i in range(0, len(data), chunk) for e in reader.feed(data[i : i + chunk])]
        best = max(best, len(data) / MB / max(time.process_time() - started, 1e-9))
    return best, events


def test_throughput_of_both_reader_modes_on_16_mb_of_realistic_lines():
    data = realistic_stream(16 * MB)
    full_speed, full = throughput(data, transcript=True)
    fast_speed, fast = throughput(data, transcript=False)
    print(
        f"\nStreamReader on {len(data) / MB:.1f} MB in 64 KiB chunks: "
        f"transcript {full_speed:.0f} MB/s, classification-only {fast_speed:.0f} MB/s (CPU time)"
    )
    assert fast == [full[0], full[1], full[-1]]  # init, rate-limit event, result
    assert summarize(fast) == summarize(full)
