"""Shared set-up for tests that run a real engine: a home on tmp_path whose agent is the
scripted stand-in (tests/agents/fake_claude.py), short watchdogs, and a user HOME with no
Claude credentials unless a test adds them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import yaml

from app.core.times import iso_ms
from app.paths import Home, ensure_home

FAKE_AGENT = Path(__file__).parent / "agents" / "fake_claude.py"


def make_home(tmp_path: Path, config: Mapping[str, Any] | None = None) -> tuple[Home, dict[str, str], Path]:
    """(home, environment for the engine, the projects' folder)."""
    home = Home(tmp_path / "home")
    ensure_home(home)
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    user = tmp_path / "user"
    user.mkdir(exist_ok=True)
    settings: dict[str, Any] = {
        "default_cwd": str(project),
        "agent": {"command": str(FAKE_AGENT)},
        "watchdog": {"post_result_grace": 30, "kill_after": 2, "idle": 60, "max_duration": 300},
        "usage": {"poll_seconds": 60},
    }
    for key, value in (config or {}).items():
        if isinstance(value, dict):
            settings.setdefault(key, {}).update(value)
        else:
            settings[key] = value
    home.config.write_text(yaml.safe_dump(settings))
    ours = ("CLAUDE", "ANTHROPIC", "OVERNIGHT")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    environ["HOME"] = str(user)
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    return home, environ, project


def write_prd(home: Home, name: str, body: str, **frontmatter: Any) -> Path:
    text = body if not frontmatter else f"---\n{yaml.safe_dump(frontmatter)}---\n{body}"
    path = home.prds / name
    temp = home.prds / f".{name}.tmp"
    temp.write_text(text)
    temp.rename(path)
    return path


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def processes_with_marker(marker: str) -> list[int]:
    """Live processes whose environment carries OVERNIGHT_RUN=<marker>: a run's survivors."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("OVERNIGHT_RUN") == marker and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def overnight(*args: str, env=None, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """`python -m app ARGS…` as a user types it, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False,
        **kwargs,
    )


def write_synthetic_history(home: Home, now: dt.datetime, days: int = 30, runs_per_day: int = 6) -> dict[str, int]:
    """`days` days of job runs in history.jsonl (outcomes in a fixed rotation, $0.50 each) and a
    heartbeat every ten minutes with utilization rising through each day; returns the runs by outcome."""
    outcomes = ("completed", "completed", "completed", "failed", "rate_limited", "cancelled")
    counts: dict[str, int] = {}
    runs, beats = [], []
    for day in range(days):
        start = now - dt.timedelta(days=days - 1 - day)
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        for index in range(runs_per_day):
            outcome = outcomes[(day + index) % len(outcomes)]
            counts[outcome] = counts.get(outcome, 0) + 1
            at = start + dt.timedelta(seconds=(index + 1) * 60 * 60 * 20 / (runs_per_day + 1))
            runs.append({"ts": iso_ms(at), "event": "run.finished", "kind": "job", "slug": f"job-{day}-{index}",
                         "outcome": outcome, "status": outcome, "costUsd": 0.5, "numTurns": 4})
        for step in range(0, 24 * 6):
            at = start + dt.timedelta(minutes=10 * step)
            if at <= now:
                beats.append({"ts": iso_ms(at), "counts": {}, "gate": "open", "paused": None,
                              "fiveHour": step % 30 * 3.0, "sevenDay": 20 + day * 2.0, "stale": False})
    home.history.write_text("".join(json.dumps(line) + "\n" for line in runs))
    home.logs.mkdir(parents=True, exist_ok=True)
    home.heartbeat.write_text("".join(json.dumps(line) + "\n" for line in beats))
    return counts
