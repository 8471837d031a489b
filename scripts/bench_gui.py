#!/usr/bin/env python3
"""Responsiveness benchmark of the desktop app (not a test).

The real MainWindow over a queue of 5,000 jobs, fed 200 job-status changes a second for 10 s
the way the engine bridge delivers them: `stateChanged` emitted from a worker thread, once per
coalescing interval (50 ms), with the latest state and the slugs that changed. A 1 ms timer on
the GUI thread measures how late the event loop gets; the longest lateness is the stall.

    .venv/bin/python scripts/bench_gui.py [--jobs N] [--rate R] [--seconds S]

Then it opens History over 30 days of 200 runs a day (and a heartbeat every ten minutes): the time
from the click to the charts painted with their data, and the longest stall meanwhile.

Targets: longest event-loop stall < 50 ms; History painted < 300 ms; peak RSS < 300 MB. Runs offscreen unless
QT_QPA_PLATFORM says otherwise. Always exits 0: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.core import queue as q
from app.core.queue import CurrentRun, Job, LastRun, QueueState, Status
from app.engine.api import Snapshot
from app.gui.bridge import COALESCE, EngineBridge
from app.gui.main_window import MainWindow
from app.paths import Home, ensure_home
from tests.support import write_synthetic_history

STALL_TARGET_MS = 50
RSS_TARGET_MB = 300
HISTORY_TARGET_MS = 300
HISTORY_RUNS = 200
MAX_RUNNING = 16


def initial_jobs(count: int, now: dt.datetime) -> dict[str, Job]:
    jobs = {}
    for index in range(count):
        slug = f"{index // 100:02d}-task-{index:05d}"
        jobs[slug] = Job(
            slug=slug,
            title=f"Task {index}: refactor module {index % 97}",
            cwd=f"/home/dev/projects/p{index % 13}",
            group=index // 100,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            content_hash=f"{index:064x}",
            model="sonnet",
        )
    return jobs


class Feeder(threading.Thread):
    """Changes job statuses at `rate` a second and emits coalesced states, as the engine thread does."""

    def __init__(self, bridge: EngineBridge, jobs: dict[str, Job], rate: int, seconds: float) -> None:
        super().__init__(name="feeder", daemon=True)
        self._bridge = bridge
        self._jobs = jobs
        self._rate = rate
        self._seconds = seconds
        self._pending = deque(slug for slug, job in jobs.items() if job.status is Status.PENDING)
        self._running: deque[str] = deque()
        self._random = random.Random(7)
        self.changes = 0

    def emit_all(self) -> None:
        self._bridge.stateChanged.emit(Snapshot(QueueState(jobs=dict(self._jobs))), list(self._jobs))

    def run(self) -> None:
        changed: set[str] = set()
        start = time.monotonic()
        next_flush = start + COALESCE
        while (now := time.monotonic()) < start + self._seconds:
            due = int((now - start) * self._rate)
            while self.changes < due:
                changed.add(self._change_one())
                self.changes += 1
            if now >= next_flush:
                self._bridge.stateChanged.emit(Snapshot(QueueState(jobs=dict(self._jobs))), sorted(changed))
                changed.clear()
                next_flush += COALESCE
            time.sleep(0.001)

    def _change_one(self) -> str:
        now = dt.datetime.now(dt.UTC)
        if len(self._running) < MAX_RUNNING and self._pending:
            slug = self._pending.popleft()
            run = CurrentRun(run_id=f"run-{self.changes}", started_at=now, log_path=f"/nonexistent/{slug}.jsonl",
                             content_hash=self._jobs[slug].content_hash, pid=100_000 + self.changes)
            self._jobs[slug] = q.start(self._jobs[slug], run, now)
            self._running.append(slug)
            return slug
        slug = self._running.popleft()
        job = self._jobs[slug]
        outcome = "failed" if self._random.random() < 0.1 else "completed"
        last = LastRun(run_id=job.current.run_id, outcome=outcome, exit_code=0 if outcome == "completed" else 1,
                       finished_at=now, duration_ms=int((now - job.current.started_at).total_seconds() * 1000),
                       cost_usd=0.42, num_turns=7, reason="" if outcome == "completed" else "error_max_turns")
        self._jobs[slug] = q.finish(job, Status(outcome), last, now)
        return slug


class StallMeter:
    """A 1 ms timer on the GUI thread: the longest gap between its ticks, minus the 1 ms it asked for."""

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self.longest_ms = 0.0
        self.ticks = 0

    def start(self) -> None:
        self.longest_ms = 0.0
        self.ticks = 0
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        gap = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        self.ticks += 1
        self.longest_ms = max(self.longest_ms, gap - 1.0)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200, help="job-status changes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="overnight-bench-") as folder:
        home = Home(Path(folder) / "home")
        ensure_home(home)
        # The window remembers its layout when it closes: in the bench's folder, not the user's settings.
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        bridge = EngineBridge(home)
        window = MainWindow(bridge)
        window.resize(1200, 750)
        window.show()
        feeder = Feeder(bridge, initial_jobs(args.jobs, dt.datetime.now(dt.UTC)), args.rate, args.seconds)
        meter = StallMeter()
        results: dict[str, float] = {}
        clock = QElapsedTimer()

        def load() -> None:
            meter.start()
            feeder.emit_all()
            QTimer.singleShot(1000, feed)

        def feed() -> None:
            results["load_ms"] = meter.longest_ms
            meter.start()
            feeder.start()
            wait_for_feeder()

        def wait_for_feeder() -> None:
            if feeder.is_alive():
                QTimer.singleShot(50, wait_for_feeder)
                return
            QTimer.singleShot(200, finish)  # let the last queued state be shown

        def finish() -> None:
            meter.stop()
            results["stall_ms"] = meter.longest_ms
            results["ticks"] = meter.ticks
            write_synthetic_history(home, dt.datetime.now().astimezone(), days=30, runs_per_day=HISTORY_RUNS)
            meter.start()
            clock.start()
            window.views.open_history()
            wait_for_history()

        def wait_for_history() -> None:
            view = window.views.history
            if view is None or view.history is None:
                QTimer.singleShot(1, wait_for_history)
                return
            view.charts.grab()  # the charts painted with their data
            results["history_ms"] = clock.elapsed()
            QTimer.singleShot(200, done)

        def done() -> None:
            meter.stop()
            results["history_stall_ms"] = meter.longest_ms
            app.exit(0)  # quit() would ask the window to close, and it declines

        QTimer.singleShot(0, load)
        app.exec()
        window.close()

    rss = peak_rss_mb()
    print(f"queue: {args.jobs} jobs; fed {feeder.changes} status changes in {args.seconds:.0f} s "
          f"({args.rate}/s, coalesced every {COALESCE * 1000:.0f} ms); platform {app.platformName()}")
    print(f"first state of {args.jobs} jobs shown with a stall of {results['load_ms']:.1f} ms")
    print(f"longest event-loop stall while fed: {results['stall_ms']:.1f} ms "
          f"(target < {STALL_TARGET_MS} ms) {'ok' if results['stall_ms'] < STALL_TARGET_MS else 'OVER'}; "
          f"the 1 ms timer ticked {results['ticks']:.0f} times")
    history_ms, history_stall = results["history_ms"], results["history_stall_ms"]
    print(f"History over 30 days x {HISTORY_RUNS} runs painted in {history_ms:.0f} ms "
          f"(target < {HISTORY_TARGET_MS} ms) {'ok' if history_ms < HISTORY_TARGET_MS else 'OVER'}; longest stall "
          f"{history_stall:.1f} ms {'ok' if history_stall < STALL_TARGET_MS else 'OVER'}")
    print(f"peak RSS: {rss:.0f} MB (target < {RSS_TARGET_MB} MB) {'ok' if rss < RSS_TARGET_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
