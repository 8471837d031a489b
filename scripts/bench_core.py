#!/usr/bin/env python3
"""Benchmark of the pure core (not a test): reconcile 10,000 PRDs from scratch, then one
changed PRD among them, and pick_next over the result.

    .venv/bin/python scripts/bench_core.py [--prds N] [--repeat R]

Targets on a 2-core machine: from scratch < 1 s; one changed PRD < 2 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.batching import pick_next
from app.core.queue import QueueState
from app.core.reconcile import FileChange, PrdDefaults, reconcile

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def prd_text(index: int) -> str:
    group = index // 100
    depends = f"dependsOn: [{group:03d}-task-{index - 1:05d}]\n" if index % 10 == 1 else ""
    return (
        f"---\ntitle: Task number {index}\nparallelGroup: {group}\nestimateMinutes: 20\n{depends}"
        f"owner: team-{index % 7}\n---\n"
        f"# Task {index}\n\nImplement the feature described here. " + "Details. " * 60 + "\n"
    )


def name_of(index: int) -> str:
    return f"{index // 100:03d}-task-{index:05d}.md"


def timed(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prds", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        defaults = PrdDefaults(prds_dir=folder, default_cwd=folder, default_model="sonnet", is_dir=lambda _: True)
        changes = [FileChange(name_of(i), prd_text(i).encode()) for i in range(args.prds)]
        scratch, (state, notes) = timed(lambda: reconcile(QueueState(), changes, defaults, NOW), args.repeat)
        assert len(state.jobs) == args.prds and len(notes) == args.prds

        samples = []
        for round_ in range(200):
            index = (round_ * 37) % args.prds
            changed = [FileChange(name_of(index), (prd_text(index) + f"\nEdit {round_}.\n").encode())]
            start = time.perf_counter()
            state, _ = reconcile(state, changed, defaults, NOW)
            samples.append(time.perf_counter() - start)
        one = statistics.median(samples)
        worst_one = sorted(samples)[int(len(samples) * 0.95)]

        new_file = [FileChange("000-task-new.md", prd_text(1).encode())]
        added, _ = timed(lambda: reconcile(state, new_file, defaults, NOW), args.repeat)
        picked, batch = timed(lambda: pick_next(state.jobs, 4), args.repeat)

    print(f"reconcile {args.prds:,} PRDs from scratch: {scratch * 1000:8.1f} ms   (target < 1000 ms)")
    print(f"one changed PRD among them (median):     {one * 1000:8.3f} ms   "
          f"(target < 2 ms; p95 {worst_one * 1000:.3f} ms)")
    print(f"one new PRD among them:                  {added * 1000:8.3f} ms")
    print(f"pick_next over them:                     {picked * 1000:8.3f} ms   -> {batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
