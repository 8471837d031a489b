"""A bad file affects only itself. Whatever is dropped into prds/, at start or while the queue
runs, the valid PRDs beside it run promptly, each bad one is listed as invalid with its reason,
and the engine still stops on SIGTERM at once. A real `overnight run` process, real files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.engine.control import request_sync
from tests.support import make_home, wait_until, write_prd


def write(content: str | bytes) -> Callable[[Path], object]:
    data = content.encode() if isinstance(content, str) else content
    return lambda path: path.write_bytes(data)


def sparse(size: int) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        with open(path, "wb") as file:
            file.truncate(size)

    return make


def bound_socket(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    return listener


ALIAS_BOMB = 'a: &a ["l","l","l","l","l","l","l","l","l"]\n' + "".join(
    f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True))

# kind → (how to make it at a path, words its reason must have)
HOSTILE: dict[str, tuple[Callable[[Path], object], str]] = {
    "fifo": (os.mkfifo, "named pipe"),
    "socket": (bound_socket, "socket"),
    "device": (lambda path: os.symlink("/dev/zero", path), "character device"),
    "dangling": (lambda path: os.symlink("nowhere.md", path), "broken link"),
    "loop": (lambda path: os.symlink(path.name, path), "symlink loop"),
    "folder": (Path.mkdir, "folder"),
    "bomb": (write(f"---\n{ALIAS_BOMB}---\nbody\n"), "aliases expand"),
    "bigint": (write(f"---\nowner: 9{'9' * 5000}\n---\nbody\n"), "digits"),
    "nan": (write("---\nestimateMinutes: .nan\n---\nbody\n"), "estimateMinutes"),
    "recursive": (write("---\nloop: &l [*l]\n---\nbody\n"), "contains it"),
    "baddate": (write("---\ndue: 2026-13-45\n---\nbody\n"), "2026-13-45"),
    "deep": (write("---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n"), "nesting depth"),
    "extra": (write(f"---\nnotes: {'n' * 20000}\n---\nbody\n"), "16 KB"),
    "huge": (sparse(4 * 1024**3), "larger than 1 MiB"),
    "nul": (write(b"body\x00\n"), "NUL"),
    "latin1": (write("Caf\u00e9\n".encode("latin-1")), "not UTF-8"),
    "empty": (write("---\ntitle: x\n---\n"), "body is empty"),
}


def drop_hostile(prds: Path, first_group: int) -> dict[str, str]:
    """Every kind of bad name in prds/; slug → the words its reason must have."""
    expected = {}
    for offset, (kind, (make, words)) in enumerate(HOSTILE.items()):
        slug = f"{first_group + offset}-{kind}"
        make(prds / f"{slug}.md")
        expected[slug] = words
    return expected


def test_hostile_files_at_start_and_while_running_affect_only_themselves(tmp_path):
    home, environ, _ = make_home(tmp_path)
    write_prd(home, "01-good.md", '@fake text "good"\n')
    expected = drop_hostile(home.prds, 10)
    engine = subprocess.Popen([sys.executable, "-m", "app", "run", "--json-logs", "--home", str(home.root)],
                              env=environ, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: home.socket.exists(), timeout=30)

        def jobs() -> dict[str, dict]:
            return {job["slug"]: job for job in request_sync(home.socket, {"cmd": "status"})["jobs"]}

        wait_until(lambda: jobs().get("01-good", {}).get("status") == "completed", timeout=20)
        expected.update(drop_hostile(home.prds, 30))
        dropped = time.monotonic()
        write_prd(home, "50-good.md", '@fake text "good too"\n')
        wait_until(lambda: jobs().get("50-good", {}).get("status") == "completed", timeout=20)
        assert time.monotonic() - dropped < 5, "a valid PRD dropped beside bad ones waited for a rescan"
        try:
            wait_until(lambda: set(expected) <= set(jobs()), timeout=10)
        except AssertionError:
            raise AssertionError(sorted(set(expected) - set(jobs()))) from None
        listed = jobs()
        for slug, words in expected.items():
            assert listed[slug]["status"] == "invalid", slug
            assert words in listed[slug]["reason"], (slug, listed[slug]["reason"])
    finally:
        engine.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        _, stderr = engine.communicate(timeout=30)
    assert time.monotonic() - stopping < 5
    assert engine.returncode == 0
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert not [event for event in events if event["event"] == "engine.error"]
    assert json.loads(home.queue.read_text())["jobs"]
    assert os.path.getsize(home.queue) < 256 * 1024  # nothing expanded into queue.json
