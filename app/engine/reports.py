"""The morning report on disk (docs/BEHAVIOUR.md section 14): its inputs read in a streaming
pass (only the period's lines are kept), the Markdown written to `home/reports/` atomically and
privately, and the engine's duty that writes one when the queue drains. What the report says is
`core/report.py`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from app.core import gate as gates
from app.core import report
from app.core.batching import Waiting, waiting_reasons
from app.core.event_names import EventName
from app.core.queue import Job
from app.core.upkeep import has_anything_left
from app.engine.threads import in_daemon_thread
from app.paths import Home, write_private_atomically

if TYPE_CHECKING:
    from app.engine.engine import Engine

REPORT_TIMEOUT = 120.0  # reading a long history on a slow disk
SEEK_SPAN = 64 * 1024  # below this the rest of a file is read line by line
HEAD_LIMIT = 4096  # the start of a report, where its period is
META_LIMIT = 1 << 20  # a run's .meta.json larger than this is not read
EVERYTHING = dt.datetime.min.replace(tzinfo=dt.UTC)  # the period when there is no previous report


@dataclass(frozen=True, slots=True)
class Written:
    report: dict[str, Any]
    markdown: str
    path: Path


def previous(home: Home) -> dt.datetime:
    """When the latest report's period ended (the next one's start), or the beginning of time."""
    try:
        entries = [entry for entry in home.reports.iterdir() if report.time_of(entry.name) is not None]
    except OSError:
        return EVERYTHING
    ends = [EVERYTHING]
    for entry in entries:
        named = report.time_of(entry.name)
        try:
            with entry.open(encoding="utf-8", errors="replace") as file:
                exact = report.period_end(file.read(HEAD_LIMIT))
        except OSError:
            exact = None
        ends += [moment for moment in (exact or named,) if moment is not None]
    return max(ends)


def _lines(*paths: Path, since: dt.datetime = EVERYTHING) -> Iterator[str]:
    """The lines of each file in turn, read as a stream (a missing file has none), each file from
    a line at or before the first one of `since` on (the files only grow, in time order)."""
    for path in paths:
        try:
            with path.open("rb") as file:
                _skip_to(file, since, os.fstat(file.fileno()).st_size)
                for line in file:
                    yield line.decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue


def _skip_to(file: BinaryIO, since: dt.datetime, size: int) -> None:
    """`file` at the start of a line no later than the first line of `since`: a binary search over
    byte offsets, so a long history is not read from its beginning."""
    low, high = 0, size
    while high - low > SEEK_SPAN:
        middle = (low + high) // 2
        file.seek(middle)
        file.readline()  # the rest of the line `middle` falls in
        moment = None
        while moment is None and (line := file.readline()):
            moment = report.line_time(line.decode("utf-8", errors="replace"))
        if moment is None or moment >= since:
            high = middle
        else:
            low = middle
    file.seek(low)
    if low:
        file.readline()


def _metas(home: Home, runs: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The .meta.json of each run that ended in the period; one that cannot be read is left out."""
    metas: dict[str, Mapping[str, Any]] = {}
    for run in runs:
        run_id, slug = str(run.get("runId")), str(run["slug"])
        try:
            path = home.run_files(run_id, slug).meta
            if path.stat().st_size <= META_LIMIT:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    metas[report.meta_key(run_id, slug)] = data
        except (OSError, ValueError):
            continue
    return metas


def make(home: Home, jobs: Mapping[str, Job], waiting: Mapping[str, Waiting], since: dt.datetime,
         until: dt.datetime) -> Written:
    """Blocking: the report of `since`..`until` built from the home's files and written to
    `reports/<YYYY-MM-DD-HHMM>.md` (0600, atomically)."""
    history = report.collect(_lines(home.history, since=since), since, until)
    beats = home.heartbeat
    heartbeat = report.collect(_lines(beats.with_name(beats.name + ".1"), beats, since=since), since, until)
    inputs = report.Inputs(history, heartbeat, _metas(home, report.job_runs(history)), jobs, waiting)
    built = report.build(inputs, since, until)
    markdown = report.to_markdown(built)
    home.reports.mkdir(mode=0o700, exist_ok=True)
    path = home.reports / report.file_name(until, {entry.name for entry in home.reports.iterdir()})
    write_private_atomically(path, markdown.encode())
    return Written(built, markdown, path)


class DrainReports:
    """The engine's duty: when the queue drains (nothing pending, running or investigating) after
    a run ended since the last report, one report is written and `report.written` announced."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._busy = False  # something was left, or a run ended, since the last report
        # The last run end seen (from the engine's start): a run shorter than a look still counts.
        self._latest: dt.datetime | None = None
        self._since: dt.datetime | None = None  # the period's start, read once off the loop
        self._writing: asyncio.Task[None] | None = None

    def report_on_drain(self) -> None:
        engine = self._engine
        jobs = engine.state.jobs
        latest = max((job.last.finished_at for job in jobs.values() if job.last is not None), default=None)
        seen = self._latest or engine.started_at
        if latest is not None and seen is not None and latest > seen:
            self._busy, self._latest = True, latest
        if has_anything_left(jobs):
            self._busy = True
            return
        if not self._busy:
            return
        self._busy = False
        self._writing = engine.background(self._write(jobs), engine.chores)

    async def settle(self) -> None:
        """A look now, and the report it starts (or one being written) finished: `run --until-idle`
        waits for it before it stops."""
        self.report_on_drain()
        if self._writing is not None:
            await asyncio.wait({self._writing}, timeout=REPORT_TIMEOUT)

    async def _write(self, jobs: Mapping[str, Job]) -> None:
        engine = self._engine
        home = engine.home
        try:
            if self._since is None:
                self._since = await in_daemon_thread(partial(previous, home), REPORT_TIMEOUT, name="report")
            since, until = self._since, engine.clock.now()
            if not any(job.last is not None and job.last.finished_at >= since for job in jobs.values()):
                return  # no run ended in this period: nothing to report
            state = engine.state
            decision = gates.decide(engine.policy(), engine.usage, state.paused, state.on_reset, until)
            waiting = waiting_reasons(state.jobs, decision, engine.cap())
            written = await in_daemon_thread(partial(make, home, state.jobs, waiting, since, until),
                                             REPORT_TIMEOUT, name="report")
        except (OSError, TimeoutError) as exc:
            engine.write_failed(home.reports, exc if isinstance(exc, OSError) else "timed out")
            return
        except Exception as exc:  # a bug must not end the engine: it is reported, the queue goes on
            engine.emit(EventName.ENGINE_ERROR, "error", where="report", error=f"{type(exc).__name__}: {exc}")
            return
        self._since = until
        totals = written.report["totals"]
        engine.emit(EventName.REPORT_WRITTEN, path=str(written.path), completed=totals["completed"],
                    failed=totals["failed"], needs_review=totals["needs_review"], cost=totals["costUsd"],
                    runs=totals["runs"])
