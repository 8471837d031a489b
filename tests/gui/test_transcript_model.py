"""The transcript model: rows built from real stream-JSON, appended at the end, the oldest dropped beyond the cap."""

from pathlib import Path

from app.core.stream import StreamReader
from app.gui.transcript_model import RowKind, TranscriptModel, TranscriptRow, transcript_rows
from tests.gui.recorder import Recorder

DATA = Path(__file__).parent.parent / "data" / "cli-2.1.197"


def rows_of(name):
    reader = StreamReader(transcript=True)
    events = reader.feed((DATA / name).read_bytes()) + reader.finish()
    return transcript_rows(events)


def test_transcript_rows_show_text_tool_calls_collapsed_results_and_the_result_line():
    rows = rows_of("tool_write.jsonl")
    kinds = [row.kind for row in rows]
    assert kinds == [RowKind.SESSION, RowKind.TOOL_CALL, RowKind.TOOL_RESULT, RowKind.TEXT, RowKind.RESULT]
    call, result, text, line = rows[1:]
    assert call.text == "→ Write /home/user/project/notes.txt"
    assert result.text.startswith("← ok · ") and "File created successfully" in result.detail
    assert text.text == "done (write)"
    assert line.text.startswith("result: success, 2 turns, $")


def test_a_rejected_rate_limit_and_an_unreadable_line_are_shown_as_errors():
    rows = rows_of("rate_limited_subscription.jsonl")
    assert any(row.kind is RowKind.RATE_LIMIT and row.is_error for row in rows)
    garbage = transcript_rows(StreamReader().feed(b"this is not JSON {\n"))
    assert garbage == [TranscriptRow(RowKind.UNPARSED, "unreadable line: this is not JSON {", "this is not JSON {",
                                     True)]


def test_the_transcript_model_appends_and_drops_its_oldest_rows_beyond_its_cap(qtmodeltester, qtbot):
    model = TranscriptModel(max_rows=5)
    recorder = Recorder(model)
    model.append_rows(rows_of("tool_write.jsonl"))
    assert recorder.take() == [("inserted", 0, 4)]
    qtmodeltester.check(model)
    with qtbot.waitSignal(model.earlierHiddenChanged):
        model.append_rows([TranscriptRow(RowKind.TEXT, f"line {n}") for n in range(3)])
    assert recorder.take() == [("removed", 0, 2), ("inserted", 2, 4)]
    assert [row.text for row in model.rows()][-3:] == ["line 0", "line 1", "line 2"]
    assert model.rowCount() == 5 and model.earlier_hidden
    qtmodeltester.check(model)


def test_a_batch_larger_than_the_cap_keeps_its_last_rows():
    model = TranscriptModel(max_rows=5)
    model.append_rows([TranscriptRow(RowKind.TEXT, str(n)) for n in range(12)])
    assert [row.text for row in model.rows()] == ["7", "8", "9", "10", "11"]
    assert model.earlier_hidden
