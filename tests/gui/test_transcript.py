"""Following transcript files off the GUI thread, and which files are the transcripts of a job."""

import json
import time
from dataclasses import replace

from PySide6.QtCore import QTimer

from app.core.outcome import OutcomeKind
from app.core.queue import Investigation, InvestigationStatus, LastRun, Status
from app.gui.transcript import TAIL_BYTES, TranscriptFollower, transcript_sources
from app.gui.transcript_model import RowKind, TranscriptModel
from app.gui.widgets.transcript_view import TranscriptView
from app.paths import Home
from tests.unit.core.factories import T0, job


def assistant_line(text):
    return json.dumps({"type": "assistant", "message": {"model": "claude-sonnet-4-6", "content": [
        {"type": "text", "text": text}]}}) + "\n"


def result_line():
    return json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 3,
                       "duration_ms": 4200, "total_cost_usd": 0.0125, "result": "ok"}) + "\n"


def texts(model):
    return [row.text for row in model.rows()]


def test_a_live_transcript_grows_in_the_model_as_the_agent_writes(qtbot, tmp_path):
    log = tmp_path / "01-a.jsonl"
    model = TranscriptModel()
    follower = TranscriptFollower(model)
    with qtbot.waitSignal(follower.noteChanged, check_params_cb=lambda note: "waiting" in note):
        follower.follow(log, live=True)
    with log.open("a") as file:
        file.write(assistant_line("first"))
        file.flush()
        qtbot.waitUntil(lambda: texts(model) == ["first"], timeout=3000)
        assert follower.note == ""
        file.write(assistant_line("second")[:20])  # half a line is not shown until it is whole
        file.flush()
        file.write(assistant_line("second")[20:] + result_line())
    qtbot.waitUntil(lambda: len(texts(model)) == 3, timeout=3000)
    assert texts(model)[1] == "second"
    assert model.row(2).kind is RowKind.RESULT and model.row(2).text == "result: success, 3 turns, $0.0125, 4.2 s"
    follower.follow(log, live=False)
    follower.stop()


def test_following_another_job_stops_the_first_follower(qtbot, tmp_path):
    first, second = tmp_path / "01-a.jsonl", tmp_path / "02-b.jsonl"
    first.write_text(assistant_line("from a"))
    second.write_text(assistant_line("from b"))
    model = TranscriptModel()
    follower = TranscriptFollower(model)
    follower.follow(first, live=True)
    qtbot.waitUntil(lambda: texts(model) == ["from a"], timeout=3000)
    follower.follow(second, live=True)
    qtbot.waitUntil(lambda: texts(model) == ["from b"], timeout=3000)
    with first.open("a") as file:
        file.write(assistant_line("late a"))
    with second.open("a") as file:
        file.write(assistant_line("more b"))
    qtbot.waitUntil(lambda: texts(model) == ["from b", "more b"], timeout=3000)
    follower.stop()


def test_a_suspended_follower_reads_nothing_until_resumed_then_catches_up(qtbot, tmp_path):
    log = tmp_path / "01-a.jsonl"
    log.write_text(assistant_line("first"))
    model = TranscriptModel()
    follower = TranscriptFollower(model)
    follower.suspend()
    follower.follow(log, live=True)
    reader = TranscriptFollower(TranscriptModel())  # the same file, read meanwhile
    reader.follow(log, live=True)
    qtbot.waitUntil(lambda: texts(reader.model) == ["first"], timeout=3000)
    assert texts(model) == []
    follower.resume()
    qtbot.waitUntil(lambda: texts(model) == ["first"], timeout=3000)

    follower.suspend()
    with log.open("a") as file:
        file.write(assistant_line("second"))
    qtbot.waitUntil(lambda: texts(reader.model) == ["first", "second"], timeout=3000)
    assert texts(model) == ["first"]
    assert follower._tail.take()[0] == []  # nor has its worker read the line
    follower.resume()
    qtbot.waitUntil(lambda: texts(model) == ["first", "second"], timeout=3000)
    follower.stop()
    reader.stop()


def test_a_finished_run_without_a_transcript_says_so(qtbot, tmp_path):
    follower = TranscriptFollower(TranscriptModel())
    with qtbot.waitSignal(follower.noteChanged, check_params_cb=lambda note: note == "no transcript was written"):
        follower.follow(tmp_path / "missing.jsonl", live=False)


def test_a_50_mb_transcript_does_not_freeze_the_window(qtbot, tmp_path):
    log = tmp_path / "big.jsonl"
    line = assistant_line("x" * 1000)
    with log.open("w") as file:
        file.write(line * (50_000_000 // len(line) + 1))
        file.write(assistant_line("the very last line"))
    assert log.stat().st_size > 50_000_000 > TAIL_BYTES
    model = TranscriptModel(max_rows=2000)
    view = TranscriptView()
    view.setModel(model)
    view.resize(600, 400)
    qtbot.addWidget(view)
    view.show()
    gaps, last = [0.0], [time.monotonic()]

    def beat():
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.timeout.connect(beat)
    heartbeat.start(10)
    follower = TranscriptFollower(model)
    follower.follow(log, live=False)
    qtbot.waitUntil(lambda: model.rowCount() and model.row(model.rowCount() - 1).text == "the very last line",
                    timeout=20000)
    heartbeat.stop()
    assert model.rowCount() == 2000 and model.earlier_hidden
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


def test_the_transcripts_shown_are_the_files_the_engine_writes_and_a_damaged_record_shows_none(tmp_path):
    home = Home(tmp_path)
    inv = Investigation(InvestigationStatus.RUNNING, "01-fix-a", failed_run_id="r1", run_id="r1")
    last = LastRun("r1", OutcomeKind.FAILED, 1, T0, 1000, None, None, "exit 1")
    failed = replace(job("01-a", Status.FAILED), last=last, investigation=inv)
    sources = transcript_sources(home, failed)
    assert [source.path for source in sources] == [home.run_files("r1", "01-a").log,
                                                   home.run_files("r1", "01-a", investigation=True).log]
    assert [source.live for source in sources] == [False, True]
    running = job("01-b", Status.RUNNING)
    assert [source.path for source in transcript_sources(home, running)] == [
        home.run_files(running.current.run_id, "01-b").log]
    damaged = replace(running, current=replace(running.current, run_id="../../etc"))
    assert transcript_sources(home, damaged) == []


def test_every_run_of_a_job_is_a_transcript_oldest_first_and_a_damaged_one_is_left_out(tmp_path):
    home = Home(tmp_path)
    first = LastRun("r1", OutcomeKind.RATE_LIMITED, 1, T0, 1000, None, None, "usage limit reached")
    damaged = replace(first, run_id="../../etc")
    second = LastRun("r2", OutcomeKind.FAILED, 1, T0, 1000, None, None, "interrupted", resumed_from="r1")
    inv = Investigation(InvestigationStatus.WROTE_FIX_PLAN, "01-fix-a", failed_run_id="r2", run_id="r2")
    running = job("01-a", Status.RUNNING, last=second, earlier_runs=(damaged, first), investigation=inv)
    running = replace(running, current=replace(running.current, run_id="r3", resumed_from="r2"))
    sources = transcript_sources(home, running)
    assert [source.label for source in sources] == [
        "Run r1 (rate limited)", "Run r2 (failed, resumed from run r1)", "Run r3 (running, resumed from run r2)",
        "Investigation (wrote fix plan)"]
    assert [source.path for source in sources[:3]] == [home.run_files(run, "01-a").log for run in ("r1", "r2", "r3")]
    assert [source.live for source in sources] == [False, False, True, False]
