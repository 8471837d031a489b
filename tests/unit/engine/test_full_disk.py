"""A full disk pauses the queue (`disk`), never wedges it: nothing starts while writing fails,
nothing is lost, and the queue goes on by itself once there is room again.

The engine runs as a real process whose home is a small tmpfs, mounted in a mount namespace of
its own (`unshare -rm`); the test reaches that home through /proc/<pid>/root and fills it up.
"""

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.gate import manual_pause
from app.core.queue import QueueState
from app.core.queue_json import state_to_json
from app.engine.control import request_sync
from tests.support import make_home, wait_until, write_prd


@pytest.fixture(scope="module")
def mount_namespaces() -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("unshare -rm is not allowed here: no private tmpfs to fill")


def fill(folder: Path) -> Path:
    """Every last byte: a write that still fit (a small queue.json) would make the test a lottery."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as file:
        for size in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    file.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == 28  # ENOSPC: the disk is full
    return filler


@pytest.mark.usefixtures("mount_namespaces")
def test_a_full_disk_pauses_the_queue_and_it_completes_once_there_is_room(tmp_path):
    home, environ, _ = make_home(tmp_path / "prepared", {"concurrency_cap": 2})
    write_prd(home, "01-a.md", '@fake text "a"\n')
    write_prd(home, "01-b.md", '@fake text "b"\n')
    paused = QueueState(paused=manual_pause("until the disk is full", dt.datetime.now(dt.UTC)))
    home.queue.write_text(json.dumps(state_to_json(paused)))
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = ('mount -t tmpfs -o size=4m tmpfs "$1" && cp -a "$2" "$1/home" && '
              'exec "$3" -m app run --json-logs --home "$1/home"')
    engine = subprocess.Popen(["unshare", "-rm", "sh", "-c", script, "sh", str(mount), str(home.root), sys.executable],
                              env=environ, stderr=subprocess.PIPE, text=True)
    inside = Path(f"/proc/{engine.pid}/root") / mount.relative_to("/")
    socket = inside / "home" / "engine.sock"
    try:
        wait_until(lambda: socket.exists(), timeout=30)
        status = lambda: request_sync(socket, {"cmd": "status"})  # noqa: E731
        filler = fill(inside)
        assert request_sync(socket, {"cmd": "resume"})["ok"]
        wait_until(lambda: (status()["paused"] or {}).get("reason") == "disk", timeout=15)
        message = status()["paused"]["message"]
        assert "No space left on device" in message and str(mount / "home") in message
        time.sleep(1.5)  # several ticks and clock periods: nothing may start, nothing may wedge
        assert {job["status"] for job in status()["jobs"]} == {"pending"}
        filler.unlink()
        wait_until(lambda: {job["status"] for job in status()["jobs"]} == {"completed"}, timeout=30)
        assert status()["paused"] is None

        def saved() -> set[str]:  # queue.json follows the state as the writer thread catches up
            return {job["status"] for job in json.loads((inside / "home" / "queue.json").read_text())["jobs"]}

        wait_until(lambda: saved() == {"completed"}, timeout=10)
        history = [json.loads(line) for line in (inside / "home" / "history.jsonl").read_text().splitlines()]
        assert sorted(h["slug"] for h in history if h["event"] == "run.finished") == ["01-a", "01-b"]
    finally:
        engine.send_signal(signal.SIGTERM)
        _, stderr = engine.communicate(timeout=15)
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    order = [(event["event"], event.get("reason")) for event in events]
    disk_paused = order.index(("queue.paused", "disk"))
    recovered = order.index(("queue.resumed", "writing works again"))
    first_start = next(index for index, (name, _) in enumerate(order) if name == "job.started")
    assert disk_paused < recovered < first_start
    assert engine.returncode == 0
    assert not os.listdir(mount)  # the tmpfs went with its namespace
