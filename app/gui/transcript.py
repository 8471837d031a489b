"""Following a transcript file without blocking the GUI thread.

A worker thread reads the file from where it left off, in chunks, through
`StreamReader(transcript=True)`, and turns events into rows; the GUI thread collects
the rows at most ten times a second and appends them to a `TranscriptModel`. A big file
is read from its last TAIL_BYTES only, and at most the model's cap of rows is kept, so a
50 MB transcript costs what a small one does. While nobody can see the transcript (the
window is hidden) the follower is suspended: the worker reads nothing and the GUI thread
collects nothing; on resuming it reads on from where it stopped.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.queue import InvestigationStatus, Job
from app.core.stream import StreamReader
from app.core.text import session_words
from app.core.verify import VERIFYING, describe
from app.gui.transcript_model import TranscriptModel, TranscriptRow, plain_rows, transcript_rows
from app.paths import Home

CHUNK_BYTES = 1 << 20
TAIL_BYTES = 8 << 20
POLL_SECONDS = 0.2
FLUSH_MS = 100


RUN, VERIFY, INVESTIGATION = "run", "verify", "investigation"  # what a transcript source is of


@dataclass(frozen=True, slots=True)
class TranscriptSource:
    """A transcript the detail pane can show for a job: one of its runs', its verify log, or its
    investigation's."""

    label: str
    path: Path
    live: bool  # still being written
    kind: str = RUN


def transcript_sources(home: Home, job: Job) -> list[TranscriptSource]:
    """The transcripts of the job's runs, oldest first (its earlier runs, its last, the one running),
    then its verify log and its investigation's, where the engine writes them (`paths.RunFiles`); a
    record whose names cannot be a path is left out. A run's folder pruned since still has its
    source: the view says no transcript was written."""
    runs = [(run.run_id, run.outcome.replace("_", " "), run.resumed_from, False)
            for run in (*job.earlier_runs, *([job.last] if job.last is not None else []))]
    if job.current is not None:
        runs.append((job.current.run_id, "running", job.current.resumed_from, True))
    sources = [source for run in runs if (source := _run_source(home, job.slug, *run)) is not None]
    try:
        if job.current is not None and job.reason == VERIFYING:
            log = home.run_files(job.current.run_id, job.slug).verify_log
            sources.append(TranscriptSource("Verify (running)", log, True, VERIFY))
        elif job.current is None and job.last is not None and job.verify is not None:
            log = home.run_files(job.last.run_id, job.slug).verify_log
            sources.append(TranscriptSource(f"Verify ({describe(job.verify)})", log, False, VERIFY))
        investigation = job.investigation
        if investigation is not None and investigation.run_id is not None:
            live = investigation.status is InvestigationStatus.RUNNING
            log = home.run_files(investigation.run_id, job.slug, investigation=True).log
            words = investigation.status.value.replace("_", " ")
            sources.append(TranscriptSource(f"Investigation ({words})", log, live, INVESTIGATION))
    except ValueError:  # a run id or slug from a damaged queue.json
        pass
    return sources


def _run_source(home: Home, slug: str, run_id: str, outcome: str, resumed_from: str | None,
                live: bool) -> TranscriptSource | None:
    """"Run 20261203-101500-abc123 (failed, resumed from run …)"; None for a damaged record."""
    try:
        log = home.run_files(run_id, slug).log
    except ValueError:
        return None
    words = ", ".join(part for part in (outcome, session_words(resumed_from, None)) if part)
    return TranscriptSource(f"Run {run_id} ({words})", log, live)


class _StreamRows:
    """Stream-JSON chunks → transcript rows."""

    def __init__(self) -> None:
        self._reader = StreamReader(transcript=True)

    def feed(self, chunk: bytes) -> list[TranscriptRow]:
        return transcript_rows(self._reader.feed(chunk))

    def finish(self) -> list[TranscriptRow]:
        return transcript_rows(self._reader.finish())


class _PlainRows:
    """Plain-text chunks → a row per line; a line cut between chunks waits for its end."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[TranscriptRow]:
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        return plain_rows(lines)

    def finish(self) -> list[TranscriptRow]:
        rest, self._rest = self._rest, b""
        return plain_rows([rest] if rest else [])


class _Tail:
    """One transcript file read on a worker thread; its rows wait in a bounded buffer for the GUI."""

    def __init__(self, path: Path, live: bool, max_rows: int, owner_gone: threading.Event) -> None:
        self.path = path
        self._stop = threading.Event()
        self._owner_gone = owner_gone
        self._finished = threading.Event()
        if not live:
            self._finished.set()
        self._reading = threading.Event()
        self._reading.set()
        self._lock = threading.Lock()
        self._pending: deque[TranscriptRow] = deque(maxlen=max_rows)
        self._earlier_hidden = False
        self._note = ""
        self._done = False
        self._thread = threading.Thread(target=self._run, name=f"transcript {path.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._reading.set()  # a suspended worker wakes to end

    def suspend(self) -> None:
        """Read nothing more until `resume`; the place in the file is kept."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    def mark_finished(self) -> None:
        """The writer has exited: read what is left, then end."""
        self._finished.set()

    def take(self) -> tuple[list[TranscriptRow], bool, str, bool]:
        """(new rows, whether earlier rows were left out, a note for the user, whether reading ended)."""
        with self._lock:
            rows = list(self._pending)
            self._pending.clear()
            return rows, self._earlier_hidden, self._note, self._done

    # ------------------------------------------------------------ the worker thread

    def _run(self) -> None:
        # A transcript is stream-JSON (.jsonl); any other log (a verify log) is plain lines.
        reader = _StreamRows() if self.path.suffix == ".jsonl" else _PlainRows()
        file: BinaryIO | None = None
        try:
            while not (self._stop.is_set() or self._owner_gone.is_set()):
                if not self._reading.is_set():
                    self._reading.wait(POLL_SECONDS)  # waking now and then to see whether its owner is gone
                    continue
                finished = self._finished.is_set()
                if file is None:
                    file = self._open()
                    if file is None:
                        self._set_note("no transcript was written" if finished else "waiting for the agent's output…")
                        if finished:
                            return
                        self._stop.wait(POLL_SECONDS)
                        continue
                    self._set_note("")
                chunk = file.read(CHUNK_BYTES)
                if chunk:
                    self._push(reader.feed(chunk))
                elif finished:
                    self._push(reader.finish())
                    return
                else:
                    self._stop.wait(POLL_SECONDS)
        except OSError as exc:
            self._set_note(f"the transcript cannot be read: {exc.strerror or exc}")
        finally:
            if file is not None:
                file.close()
            with self._lock:
                self._done = True

    def _open(self) -> BinaryIO | None:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 — kept open while following
        except FileNotFoundError:
            return None
        size = file.seek(0, 2)
        if size > TAIL_BYTES:
            file.seek(size - TAIL_BYTES)
            file.readline()  # the rest of a line cut in two
            with self._lock:
                self._earlier_hidden = True
        else:
            file.seek(0)
        return file

    def _push(self, rows: list[TranscriptRow]) -> None:
        if not rows:
            return
        with self._lock:
            if len(self._pending) + len(rows) > (self._pending.maxlen or 0):
                self._earlier_hidden = True
            self._pending.extend(rows)

    def _set_note(self, note: str) -> None:
        with self._lock:
            self._note = note


class TranscriptFollower(QObject):
    """Keeps `model` showing one transcript file; following another stops the first."""

    noteChanged = Signal(str)

    def __init__(self, model: TranscriptModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._tail: _Tail | None = None
        self._note = ""
        self._suspended = False
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        # A follower deleted with its window must not leave its worker polling the file.
        gone = self._gone = threading.Event()
        self.destroyed.connect(lambda *_: gone.set())

    @property
    def note(self) -> str:
        return self._note

    @property
    def suspended(self) -> bool:
        return self._suspended

    def follow(self, path: Path | None, live: bool) -> None:
        """Show `path`; while `live` the file is still being written and is followed as it grows."""
        if path is not None and self._tail is not None and path == self._tail.path:
            if not live:
                self._tail.mark_finished()
            return
        self.stop()
        self.model.clear()
        self._set_note("")
        if path is None:
            return
        self._tail = _Tail(path, live, self.model.max_rows, self._gone)
        if self._suspended:
            self._tail.suspend()
        else:
            self._timer.start()
        self._tail.start()

    def suspend(self) -> None:
        """Read and show nothing more until `resume`: nobody can see the transcript."""
        self._suspended = True
        self._timer.stop()
        if self._tail is not None:
            self._tail.suspend()

    def resume(self) -> None:
        """Catch up with what was written meanwhile, then follow on."""
        if not self._suspended:
            return
        self._suspended = False
        if self._tail is not None:
            self._tail.resume()
            self._timer.start()
            self._flush()

    def stop(self) -> None:
        if self._tail is not None:
            self._tail.stop()
            self._tail = None
        self._timer.stop()

    def _flush(self) -> None:
        if self._tail is None:
            return
        rows, earlier_hidden, note, done = self._tail.take()
        if earlier_hidden:
            self.model.set_earlier_hidden()
        self.model.append_rows(rows)
        self._set_note(note)
        if done:
            self._timer.stop()

    def _set_note(self, note: str) -> None:
        if note != self._note:
            self._note = note
            self.noteChanged.emit(note)
