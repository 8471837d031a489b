"""One engine per home, and a lock that dies with its holder."""

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.lock import EngineLock, EngineLocked, holder_of
from app.paths import Home, ensure_home

ROOT = Path(__file__).resolve().parents[3]  # so a child Python imports this checkout's app

HOLD = """
import sys, time
from pathlib import Path
from app.engine.lock import EngineLock
EngineLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    ensure_home(home)
    return home


def test_a_second_engine_on_the_same_home_is_refused_and_told_the_first_ones_pid(home):
    with EngineLock(home.lock), pytest.raises(EngineLocked) as refused:
        EngineLock(home.lock).acquire()
    assert refused.value.pid == os.getpid()
    assert f"pid {os.getpid()}" in str(refused.value)
    with EngineLock(home.lock):
        pass


def test_the_lock_of_an_engine_killed_without_warning_is_free_at_once(home):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(home.lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(EngineLocked) as refused:
            EngineLock(home.lock).acquire()
        assert refused.value.pid == holder.pid
        assert str(home.root) in str(refused.value) and "overnight status" in str(refused.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    with EngineLock(home.lock):
        assert holder_of(home.lock)["pid"] == os.getpid()


def test_a_lock_file_left_behind_is_taken_over_and_says_who_holds_it_now(home):
    home.lock.write_text(json.dumps({"pid": 4_000_000, "startedAt": "2020-01-01T00:00:00+00:00"}) + " and more")
    with EngineLock(home.lock):
        holder = holder_of(home.lock)
        assert holder["pid"] == os.getpid()
        assert holder["startedAt"] > "2020-01-01"
        assert stat.S_IMODE(home.lock.stat().st_mode) == 0o600


def test_a_holder_that_has_not_said_who_it_is_yet_is_another_process(home):
    fd = os.open(home.lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(EngineLocked) as refused:
            EngineLock(home.lock).acquire()
    finally:
        os.close(fd)
    assert refused.value.pid is None
    assert "(another process)" in str(refused.value)


def test_a_folder_where_the_lock_goes_is_moved_aside_with_its_content(home):
    home.lock.mkdir()
    (home.lock / "notes.txt").write_text("keep me")
    with EngineLock(home.lock):
        assert home.lock.is_file()
    [aside] = home.root.glob("engine.lock.quarantined-*")
    assert (aside / "notes.txt").read_text() == "keep me"
