"""What the engine tells the world, as JSON lines, human lines, a rotated log file and a
heartbeat; a slow or broken reader never holds the engine up."""

import datetime as dt
import io
import json
import stat
import threading

from app.engine.events import (
    LOG_BYTES,
    EngineEvent,
    FileLog,
    Heartbeat,
    HumanLines,
    JsonLines,
)
from tests.support import wait_until

AT = dt.datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=dt.UTC)


def started(slug: str = "01-a", **fields) -> EngineEvent:
    return EngineEvent("job.started", AT, {"slug": slug, "pid": 42, **fields})


class StuckStream(io.StringIO):
    """A terminal or pipe that takes no line until `release` (or five seconds, so a writer
    that waits for it fails the test instead of hanging it)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.released = threading.Event()
        valve = threading.Timer(5, self.released.set)
        valve.daemon = True
        valve.start()

    def write(self, text: str) -> int:
        self.writing.set()
        self.released.wait()
        return super().write(text)


def test_an_event_as_json_has_utc_time_to_the_millisecond_its_level_its_name_and_its_fields():
    local = AT.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert EngineEvent("job.started", local, {"slug": "01-a", "pid": 42}).to_json() == {
        "ts": "2026-01-02T03:04:05.678Z",
        "level": "info",
        "event": "job.started",
        "slug": "01-a",
        "pid": 42,
    }


def test_json_lines_are_one_json_object_per_line_in_order():
    stream = io.StringIO()
    lines = JsonLines(stream)
    events = [started("01-a", title="Café ☕"), EngineEvent("engine.lag", AT, {"lagMs": 300}, "warning")]
    for event in events:
        lines(event)
    lines.close()
    assert "Café ☕" in stream.getvalue()  # as written, not escaped
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [event.to_json() for event in events]


def test_human_lines_say_the_local_time_the_level_unless_it_is_info_and_what_happened():
    stream = io.StringIO()
    lines = HumanLines(stream)
    lines(started(ids=[1, 2]))
    lines(EngineEvent("engine.lag", AT, {"lagMs": 300}, "warning"))
    lines(EngineEvent("job.failed", AT, {"reason": "x" * 500}, "error"))
    lines.close()
    clock = f"{AT.astimezone():%H:%M:%S}"
    assert stream.getvalue().splitlines() == [
        f"{clock} job.started slug=01-a pid=42 ids=[1, 2]",
        f"{clock} WARNING engine.lag lagMs=300",
        f"{clock} ERROR job.failed reason={'x' * 199}…",  # a long value is cut, the line stays readable
    ]


def test_a_reader_that_takes_no_lines_never_holds_up_the_engine():
    stream = StuckStream()
    lines = JsonLines(stream)
    for index in range(1000):
        lines(started(f"{index:02d}-a"))
    lines.close(timeout=0.1)
    assert not stream.released.is_set()  # every call came back while the stream took nothing
    stream.released.set()


def test_lines_that_come_faster_than_they_can_be_written_are_dropped_and_counted():
    stream = StuckStream()
    lines = JsonLines(stream)
    lines.MAX_WAITING = 3
    lines(started("00-first"))
    stream.writing.wait(5)  # the first line is being written; the next ones wait
    for index in range(1, 6):
        lines(started(f"{index:02d}-next"))
    stream.released.set()
    lines.close()
    written = stream.getvalue().splitlines()
    assert [json.loads(line)["slug"] for line in written[:-1]] == ["00-first", "01-next", "02-next", "03-next"]
    assert written[-1] == "(2 log lines were dropped: they came faster than they could be written)"


def test_a_stream_that_fails_loses_that_line_and_the_next_ones_are_written():
    class FailsOnce(io.StringIO):
        failed = False

        def write(self, text: str) -> int:
            if not self.failed:
                self.failed = True
                raise BrokenPipeError("the reader went away")
            return super().write(text)

    stream = FailsOnce()
    lines = JsonLines(stream)
    lines(started("01-lost"))
    wait_until(lambda: stream.failed, timeout=5)
    lines(started("02-kept"))
    lines.close()
    assert [json.loads(line)["slug"] for line in stream.getvalue().splitlines()] == ["02-kept"]


def test_the_log_file_is_private_one_line_per_event_and_rotated_past_one_mebibyte(tmp_path):
    path = tmp_path / "overnight.log"
    log = FileLog(path)
    long_fields = {f"note{n}": "n" * 190 for n in range(4)}  # about 800 bytes a line
    count = 2 * LOG_BYTES // 800
    for index in range(count):
        log(started(f"{index:06d}-a", **long_fields))
    log.close()
    current, rotated = path.read_text().splitlines(), (tmp_path / "overnight.log.1").read_text().splitlines()
    assert current[-1].startswith(f"2026-01-02T03:04:05.678Z INFO    job.started slug={count - 1:06d}-a pid=42 note0=n")
    assert path.stat().st_size <= LOG_BYTES and (tmp_path / "overnight.log.1").stat().st_size <= LOG_BYTES
    assert int(rotated[-1].split("slug=")[1][:6]) + 1 == int(current[0].split("slug=")[1][:6])  # none lost between
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_log_file_that_cannot_be_written_is_reported_without_a_traceback(tmp_path, capfd):
    (tmp_path / "logs").write_text("a file where the logs folder should be")
    path = tmp_path / "logs" / "overnight.log"
    errors: list = []
    log = FileLog(path, lambda where, error: errors.append((where, type(error))))
    log(started())
    log.close()
    assert errors == [(path, NotADirectoryError)]
    assert capfd.readouterr().err == ""


def test_the_heartbeat_is_one_json_line_a_beat_and_starts_a_new_file_past_one_mebibyte(tmp_path):
    path = tmp_path / "heartbeat.jsonl"
    heartbeat = Heartbeat(path)
    heartbeat.write({"beat": 1})
    heartbeat.write({"beat": 2, "pad": "p" * LOG_BYTES})
    assert [json.loads(line)["beat"] for line in path.read_text().splitlines()] == [1, 2]
    heartbeat.write({"beat": 3})
    assert [json.loads(line)["beat"] for line in path.read_text().splitlines()] == [3]
    assert [json.loads(line)["beat"] for line in (tmp_path / "heartbeat.jsonl.1").read_text().splitlines()] == [1, 2]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
