"""Finding and ending every process a run started (docs/BEHAVIOUR.md section 7, "no survivors").

A run's processes are its process group, every process carrying its OVERNIGHT_RUN
marker (inherited through the environment, so it follows a process that left the
group or the session — the real CLI starts its Bash tool in a new session), and the
descendants seen while the run was alive (in case one cleared its environment).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from app.core.agent import MARKER

# Process create times are rounded differently by different readers.
_CREATE_TIME_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class ProcessId:
    """A pid alone can be reused; with its create time it names one process."""

    pid: int
    create_time: float


def identify(pid: int) -> ProcessId | None:
    try:
        return ProcessId(pid, psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _get(ident: ProcessId) -> psutil.Process | None:
    try:
        process = psutil.Process(ident.pid)
        if abs(process.create_time() - ident.create_time) > _CREATE_TIME_TOLERANCE:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def marker_of(process: psutil.Process) -> str | None:
    try:
        return process.environ().get(MARKER)
    except psutil.Error:
        return None


def is_alive(ident: ProcessId) -> bool:
    return _get(ident) is not None


def is_our_run(ident: ProcessId, marker: str) -> bool:
    """Alive, the same process (create time), and carrying the run's marker: safe to adopt."""
    process = _get(ident)
    return process is not None and marker_of(process) == marker


def marked(markers: Iterable[str], since: float) -> dict[str, list[ProcessId]]:
    """Live processes carrying one of `markers`, by marker. Only processes created after
    `since` can carry a run's marker, so older ones are not opened."""
    wanted = set(markers)
    found: dict[str, list[ProcessId]] = {marker: [] for marker in wanted}
    for process in psutil.process_iter(["create_time", "status"]):
        info = process.info
        if info["create_time"] is None or info["create_time"] < since - 1:
            continue
        if info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
            continue
        marker = marker_of(process)
        if marker in wanted:
            found[marker].append(ProcessId(process.pid, info["create_time"]))
    return found


def descendants(root: ProcessId) -> list[ProcessId]:
    process = _get(root)
    if process is None:
        return []
    found = []
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        return []
    for child in children:
        ident = identify(child.pid)
        if ident is not None:
            found.append(ident)
    return found


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_all(idents: Iterable[ProcessId], sig: int) -> list[ProcessId]:
    """Signal each process that is still the same process; returns those signalled."""
    signalled = []
    for ident in idents:
        process = _get(ident)
        if process is None:
            continue
        try:
            process.send_signal(sig)
            signalled.append(ident)
        except psutil.Error:
            continue
    return signalled


def end_all(idents: Iterable[ProcessId], grace: float) -> list[ProcessId]:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL what is left. Blocking: run it in a
    thread. Returns the processes that had to be killed."""
    targets = signal_all(idents, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while targets and time.monotonic() < deadline:
        targets = [ident for ident in targets if is_alive(ident)]
        if targets:
            time.sleep(0.05)
    return signal_all(targets, signal.SIGKILL)


def end_run(marker: str, since: float, grace: float, known: Iterable[ProcessId] = ()) -> list[ProcessId]:
    """No survivors: every process of a run still alive (those seen in its tree, and those
    carrying its marker, created after `since`) gets SIGTERM, then SIGKILL after `grace`.
    Blocking: run it in a thread. Returns the processes found alive."""
    alive = {ident for ident in known if is_alive(ident)}
    alive.update(marked([marker], since)[marker])
    if not alive:
        return []
    end_all(alive, grace)
    return sorted(alive, key=lambda ident: ident.pid)


def find_run_process(
    pid: int | None, create_time: float | None, marker: str, started_at: dt.datetime
) -> ProcessId | None:
    """The run's root process if it is still alive: its saved pid (same create time, same
    marker), or, when the engine died before saving the pid, the marked group leader."""
    if pid is not None and create_time is not None:
        ident = ProcessId(pid, create_time)
        return ident if is_our_run(ident, marker) else None
    for ident in marked([marker], started_at.timestamp())[marker]:
        try:
            if os.getpgid(ident.pid) == ident.pid:
                return ident
        except OSError:
            continue
    return None
