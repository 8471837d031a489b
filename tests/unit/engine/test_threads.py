"""Blocking work runs on daemon threads with a deadline: a read stuck in the kernel is given
up, and never keeps the engine from exiting."""

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.engine.threads import call_soon, in_daemon_thread

from .harness import run

ROOT = Path(__file__).resolve().parents[3]  # so a child Python imports this checkout's app

STUCK_AND_LATE = """
import asyncio, threading
from app.engine.threads import in_daemon_thread

stuck, late = threading.Event(), threading.Event()

async def main():
    for work, name in ((stuck.wait, "stuck-read"), (late.wait, "late-read")):
        try:
            await in_daemon_thread(work, 0.1, name=name)
        except TimeoutError:
            print("given up", flush=True)

asyncio.run(main())
late.set()  # it finishes now, with its loop closed: nobody waits for it any more
for thread in threading.enumerate():
    if thread.name == "late-read":
        thread.join()
print("exiting", flush=True)
"""


@run
async def test_the_work_runs_on_a_daemon_thread_and_its_value_or_exception_comes_back():
    thread = await in_daemon_thread(threading.current_thread, 5, name="probe")
    assert thread is not threading.current_thread()
    assert thread.daemon and thread.name == "probe"
    assert await in_daemon_thread(lambda: 42, 5) == 42
    with pytest.raises(ValueError, match="bad frontmatter"):
        await in_daemon_thread(lambda: int("bad frontmatter"), 5)


@run
async def test_work_that_takes_longer_than_its_deadline_is_given_up():
    release = threading.Event()
    with pytest.raises(TimeoutError):
        await in_daemon_thread(release.wait, 0.1)
    release.set()


def test_a_stuck_read_never_keeps_the_program_from_exiting():
    finished = subprocess.run([sys.executable, "-c", STUCK_AND_LATE], cwd=ROOT, capture_output=True, text=True,
                              timeout=30, check=False)
    assert finished.stdout == "given up\ngiven up\nexiting\n"
    assert finished.returncode == 0
    assert finished.stderr == ""  # the late answer to a closed loop is no error


def test_an_answer_for_a_loop_that_is_closed_goes_nowhere():
    loop = asyncio.new_event_loop()
    loop.close()
    heard: list = []
    call_soon(loop, heard.append, "too late")
    assert heard == []
