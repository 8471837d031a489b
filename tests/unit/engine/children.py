"""Sleeping Python processes that carry a run's marker, as an agent and all it starts do."""

from __future__ import annotations

import os
import subprocess
import sys

from app.core.agent import MARKER

_SLEEPER = """
import signal, subprocess, sys, time
if "deaf" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sleep = [sys.executable, "-c", "print(flush=True); import time; time.sleep(60)"]
kids = [subprocess.Popen(sleep, stdout=subprocess.PIPE, start_new_session=kind == "escapee")
        for kind in sys.argv[1:] if kind != "deaf"]
for kid in kids:
    kid.stdout.readline()  # it runs Python: its environment can be read
print(*(kid.pid for kid in kids), flush=True)
time.sleep(60)
"""


def start_marked(
    marker: str, *kids: str, deaf: bool = False, new_session: bool = False
) -> tuple[subprocess.Popen[str], list[int]]:
    """A process carrying `marker` and, once it runs, the pids of the `kids` it started: "child"
    stays in its process group, "escapee" has a session of its own. `deaf`: it ignores SIGTERM."""
    argv = [sys.executable, "-c", _SLEEPER, *kids, *(["deaf"] if deaf else [])]
    env = {**os.environ, MARKER: marker}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, start_new_session=new_session)
    assert process.stdout is not None
    line = process.stdout.readline()
    process.stdout.close()
    assert line.endswith("\n"), "the process died before it was ready"
    return process, [int(pid) for pid in line.split()]
