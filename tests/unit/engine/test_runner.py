"""One agent process: its prompt on stdin, a session of its own, its log tailed
from a saved offset, its watchdogs, and no survivors once it ends.

The agents are small Python scripts. The watchdogs read a clock that only the test moves.
"""

import asyncio
import datetime as dt
import hashlib
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.agent import agent_env
from app.core.stream import Event, Init, Result, Unparsed
from app.engine import procs
from app.engine.runner import AgentRun, Launch, Limits, SpawnError
from tests.support import processes_with_marker, wait_until

from .children import start_marked
from .harness import run, until

LIMITS = Limits(post_result_grace=30, kill_after=5, idle=60, max_duration=300)

AGENT = """
import hashlib, json, os, pathlib, signal, subprocess, sys, time

def say(**record):
    sys.stdout.write(json.dumps(record) + "\\n")
    sys.stdout.flush()

def init():
    say(type="system", subtype="init", session_id="s1", model="m", cwd=os.getcwd(), claude_code_version="2")

def result(text):
    say(type="result", subtype="success", is_error=False, result=text)

def wait_for_go():
    while not pathlib.Path(sys.argv[1]).exists():
        time.sleep(0.01)

def sleeper(**options):
    kid = subprocess.Popen([sys.executable, "-c", "print(flush=True); import time; time.sleep(60)"],
                           stdout=subprocess.PIPE, **options)
    kid.stdout.readline()  # it runs Python: its environment can be read
    return kid
"""


class HeldClock:
    """The runner's clock, moved only by the test. `reads` counts the runner's looks at it."""

    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC)
        self.reads = 0

    def now(self) -> dt.datetime:
        self.reads += 1
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)

    async def looked(self) -> None:
        """Until the runner has looked at the clock since it moved: its watchdogs have seen it."""
        target = self.reads + 2
        await until(lambda: self.reads >= target, timeout=5)


class Runs:
    """One job's run files, its marker, and the events its runner delivered."""

    def __init__(self, tmp_path: Path, marker: str) -> None:
        self.folder = tmp_path / "runs" / "20260101T000000Z"
        self.folder.mkdir(parents=True)
        self.log = self.folder / "01-test.jsonl"
        self.stderr = self.folder / "01-test.stderr.log"
        self.project = tmp_path / "project"
        self.project.mkdir()
        self.go = tmp_path / "go"
        self.marker = marker
        self.clock = HeldClock()
        self.events: list[Event] = []

    def new(self, limits: Limits = LIMITS, offset: int = 0) -> AgentRun:
        return AgentRun(
            marker=self.marker,
            log_path=self.log,
            stderr_path=self.stderr,
            started_at=self.clock.now(),
            limits=limits,
            clock=self.clock,
            on_events=lambda _, events: self.events.extend(events),
            offset=offset,
        )

    def launch(self, script: str, prompt: bytes = b"") -> Launch:
        return Launch(
            argv=[sys.executable, "-c", AGENT + script, str(self.go)],
            env=agent_env(os.environ, (), self.marker),
            cwd=str(self.project),
            prompt=prompt,
        )

    def of(self, kind: type) -> list[Event]:
        return [event for event in self.events if isinstance(event, kind)]


@pytest.fixture
def runs(tmp_path, marker) -> Runs:
    return Runs(tmp_path, marker)


async def started(runs: Runs, script: str, limits: Limits = LIMITS) -> tuple[AgentRun, asyncio.Task]:
    """The agent, running and supervised, once it has said it is ready (its first line)."""
    agent = runs.new(limits)
    await agent.spawn(runs.launch(script))
    supervised = asyncio.create_task(agent.supervise())
    await until(lambda: runs.events, timeout=5)
    return agent, supervised


# ------------------------------------------------------------------ start


@run
async def test_the_prompt_reaches_the_agent_whole_on_stdin_and_leaves_no_file_behind(runs):
    prompt = ("Build the thing. " * 80_000).encode()  # 1.3 MB: more than an argument or a pipe holds
    agent = runs.new()
    await agent.spawn(runs.launch("result(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())", prompt))
    end = await agent.supervise()
    assert end.summary.result.text == hashlib.sha256(prompt).hexdigest()
    assert end.exit.returncode == 0
    assert sorted(os.listdir(runs.folder)) == ["01-test.jsonl", "01-test.stderr.log"]


@run
async def test_the_agent_runs_in_a_session_of_its_own_in_its_folder_with_the_runs_marker(runs):
    agent = runs.new()
    ident = await agent.spawn(runs.launch("""
result(json.dumps({"session": os.getsid(0), "group": os.getpgid(0), "cwd": os.getcwd(),
                   "marker": os.environ.get("OVERNIGHT_RUN")}))
"""))
    end = await agent.supervise()
    assert json.loads(end.summary.result.text) == {
        "session": ident.pid,  # a terminal's hang-up or Ctrl-C in Overnight's session never reaches it
        "group": ident.pid,
        "cwd": os.path.realpath(runs.project),
        "marker": runs.marker,
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda runs, launch: replace(launch, argv=["no-such-agent"], env={**launch.env, "PATH": str(runs.project)}),
         "agent binary 'no-such-agent' not found on PATH — install Claude Code or set agent.command in config.yaml"),
        (lambda runs, launch: replace(launch, cwd=str(runs.project / "gone")),
         "does not exist — create it or fix cwd in the PRD"),
        (lambda runs, launch: replace(launch, argv=[str(not_a_program(runs.project))]),
         "could not start"),
    ],
    ids=["no binary", "no cwd", "not a program"],
)
def test_an_agent_that_cannot_be_started_is_a_lasting_error_saying_what_to_fix(runs, change, problem):
    agent = runs.new()
    with pytest.raises(SpawnError) as refused:
        asyncio.run(agent.spawn(change(runs, runs.launch("result('never')"))))
    assert problem in str(refused.value)
    assert refused.value.lasting


def not_a_program(folder: Path) -> Path:
    path = folder / "agent"
    path.write_bytes(b"\x7fELF but not really")
    path.chmod(0o755)
    return path


# ------------------------------------------------------------------ the log


@run
async def test_events_arrive_while_the_agent_runs_and_its_stderr_is_kept_for_the_reason(runs):
    _, supervised = await started(runs, """
init()
sys.stderr.write("warning: the disk is slow\\n")
sys.stderr.flush()
wait_for_go()
result("done")
""")
    assert runs.events == runs.of(Init)  # the agent waits for the go: its result cannot be there yet
    runs.go.touch()
    end = await supervised
    assert [type(event) for event in runs.events] == [Init, Result]
    assert end.offset == runs.log.stat().st_size
    assert "warning: the disk is slow" in end.exit.stderr_tail


@run
async def test_the_offset_to_resume_from_never_points_inside_a_line(runs):
    agent, supervised = await started(runs, """
init()
line = json.dumps(dict(type="result", subtype="success", is_error=False, result="done")) + "\\n"
sys.stdout.write(line[:10])
sys.stdout.flush()
wait_for_go()
sys.stdout.write(line[10:])
""")
    first_line = runs.log.read_bytes().index(b"\n") + 1
    await until(lambda: runs.log.stat().st_size == first_line + 10, timeout=5)
    await runs.clock.looked()  # a tick since: the half line was read
    assert agent.offset == first_line
    runs.go.touch()
    end = await supervised
    assert end.offset == runs.log.stat().st_size
    assert end.summary.result.text == "done"


@run
async def test_a_run_picked_up_again_is_read_from_its_saved_offset_never_from_the_start(runs):
    before = b'this line was read before the restart\n{"type":"result","subtype":"success","result":"old"}\n'
    runs.log.write_bytes(before)
    agent = runs.new(offset=len(before))
    await agent.spawn(runs.launch("init()\nresult('new')"))
    end = await agent.supervise()
    assert [type(event) for event in runs.events] == [Init, Result]
    assert not runs.of(Unparsed)
    assert end.summary.result.text == "new"
    assert end.offset == runs.log.stat().st_size


def test_an_agent_outlives_the_loop_that_started_it_and_a_new_runner_takes_it_over(runs):
    launch = runs.launch("init()\nwait_for_go()\nresult('done')")
    ident = asyncio.run(runs.new().spawn(launch))
    wait_until(lambda: runs.log.stat().st_size, timeout=5)  # its first line: it runs Python
    assert procs.is_our_run(ident, runs.marker)  # the loop is closed; the agent goes on
    taken_over = runs.new()
    taken_over.adopt(ident)

    async def finish():
        runs.go.touch()
        return await taken_over.supervise()

    end = asyncio.run(finish())
    assert end.summary.result is not None and end.summary.result.text == "done"
    assert end.exit.returncode is None  # not the new runner's child: how it exited is unknown


# ------------------------------------------------------------------ no survivors


@run
async def test_a_cancel_ends_the_agent_and_everything_it_started_even_what_left_its_session(runs):
    agent, supervised = await started(runs, """
kids = [sleeper(), sleeper(start_new_session=True)]
signal.signal(signal.SIGTERM, signal.SIG_IGN)
init()
time.sleep(60)
""")
    assert len(processes_with_marker(runs.marker)) == 3
    agent.stop("cancel")
    # At once: the agent, deaf to SIGTERM, is still there waiting for kill_after; its kids are not.
    await until(lambda: processes_with_marker(runs.marker) == [agent.ident.pid], timeout=5)
    runs.clock.advance(LIMITS.kill_after)
    end = await supervised
    assert end.exit.cancelled and end.exit.returncode == -signal.SIGKILL
    wait_until(lambda: processes_with_marker(runs.marker) == [], timeout=5)


@run
async def test_an_agent_that_exits_leaves_no_survivors(runs):
    agent = runs.new()
    await agent.spawn(runs.launch("result(str(sleeper(start_new_session=True).pid))"))
    end = await agent.supervise()
    assert end.exit.returncode == 0
    assert [ident.pid for ident in end.killed_leftovers] == [int(end.summary.result.text)]
    wait_until(lambda: processes_with_marker(runs.marker) == [], timeout=5)


@run
async def test_a_run_that_ended_while_nobody_watched_is_read_to_its_end_and_leaves_no_survivors(runs):
    agent = runs.new()
    runs.log.write_text('{"type":"result","subtype":"success","is_error":false,"result":"done"}')  # no newline
    survivor, _ = start_marked(runs.marker, new_session=True)
    end = await agent.read_end()
    assert end.summary.result.text == "done"
    assert [ident.pid for ident in end.killed_leftovers] == [survivor.pid]
    assert survivor.wait() == -signal.SIGTERM


# ------------------------------------------------------------------ watchdogs


@run
async def test_an_agent_that_lingers_after_its_result_is_stopped_once_the_grace_is_over(runs):
    agent, supervised = await started(runs, "result('done')\ntime.sleep(60)")
    runs.clock.advance(LIMITS.post_result_grace - 1)
    await runs.clock.looked()
    assert agent.stop_reason is None
    runs.clock.advance(1)
    end = await supervised
    assert end.exit.watchdog == "post_result" and end.exit.returncode == -signal.SIGTERM


@run
async def test_a_silent_agent_is_stopped_and_output_holds_the_idle_watchdog_off(runs):
    agent, supervised = await started(runs, """
signal.signal(signal.SIGUSR1, lambda *_: init())
init()
while True:
    signal.pause()
""")
    runs.clock.advance(LIMITS.idle - 1)
    await runs.clock.looked()
    os.kill(agent.ident.pid, signal.SIGUSR1)
    await until(lambda: len(runs.of(Init)) == 2, timeout=5)
    runs.clock.advance(LIMITS.idle - 1)  # silent for almost the limit again, since its last line
    await runs.clock.looked()
    assert agent.stop_reason is None
    runs.clock.advance(1)
    end = await supervised
    assert end.exit.watchdog == "idle" and end.exit.returncode == -signal.SIGTERM


@run
async def test_a_run_is_stopped_when_it_reaches_its_maximum_duration(runs):
    limits = replace(LIMITS, idle=10 * LIMITS.max_duration)
    agent, supervised = await started(runs, "init()\ntime.sleep(60)", limits)
    runs.clock.advance(limits.max_duration - 1)
    await runs.clock.looked()
    assert agent.stop_reason is None
    runs.clock.advance(1)
    end = await supervised
    assert end.exit.watchdog == "max_duration"


@run
async def test_an_agent_deaf_to_sigterm_is_killed_once_kill_after_has_passed(runs):
    agent, supervised = await started(runs, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ninit()\ntime.sleep(60)")
    agent.stop("cancel")
    runs.clock.advance(LIMITS.kill_after - 1)
    await runs.clock.looked()
    assert procs.is_alive(agent.ident)
    runs.clock.advance(1)
    end = await supervised
    assert end.exit.returncode == -signal.SIGKILL and end.exit.cancelled


@run
async def test_a_cancel_after_a_watchdog_fired_is_the_reason_recorded(runs):
    deaf = "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nresult('done')\ntime.sleep(60)"
    agent, supervised = await started(runs, deaf)
    runs.clock.advance(LIMITS.post_result_grace)
    await runs.clock.looked()
    assert agent.stop_reason == "post_result"
    agent.stop("cancel")
    runs.clock.advance(LIMITS.kill_after)
    end = await supervised
    assert end.stop_reason == "cancel"
    assert end.exit.cancelled and end.exit.watchdog is None


@run
async def test_a_run_taken_over_after_a_restart_is_idle_since_its_log_last_grew_not_since_the_restart(runs):
    process, _ = start_marked(runs.marker, new_session=True)
    runs.log.write_bytes(b"")
    long_ago = time.time() - LIMITS.idle - 10
    os.utime(runs.log, (long_ago, long_ago))
    agent = runs.new()
    agent.adopt(procs.identify(process.pid))
    end = await agent.supervise()
    assert end.stop_reason == "idle"
    assert process.wait() == -signal.SIGTERM
