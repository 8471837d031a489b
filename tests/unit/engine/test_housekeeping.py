"""The clock's duties and the usage meter (app/engine/housekeeping.py): pruning, the CLI version
probe, config changes, the agent command's presence (docs/BEHAVIOUR.md sections 6 and 9)."""

import asyncio
import sys
import threading
import time

import psutil

from app.core.queue import PauseReason, Status
from app.engine import housekeeping
from tests.support import FAKE_AGENT, wait_until

from .harness import Running, run, until


@run
async def test_finished_jobs_older_than_keep_finished_days_leave_the_queue_and_their_prd_is_archived(
        tmp_path, monkeypatch):
    monkeypatch.setattr(housekeeping, "PRUNE_INTERVAL", 0.3)  # not once an hour, so it comes after the runs
    async with Running(tmp_path, {"keep_finished_days": 0}) as r:
        r.prd("01-old.md", '@fake text "x"\n')
        r.prd("02-blocked.md", "waits\n", dependsOn=["01-needed"])
        r.prd("01-needed.md", "@fake max_turns\n@investigator nothing\n")
        await until(lambda: r.status("01-old") is Status.COMPLETED and r.status("01-needed") is Status.FAILED)
        await until(lambda: r.status("01-old") is None, timeout=10)
        assert (r.home.archive / "01-old.md").read_text() == '@fake text "x"\n'
        assert not (r.home.prds / "01-old.md").exists()
        # Still needed by a pending job: kept.
        assert r.status("01-needed") is Status.FAILED
        assert any(h["event"] == "archived" and h["slug"] == "01-old" for h in await r.history())


@run
async def test_a_config_that_cannot_be_parsed_is_reported_once_and_the_clock_keeps_its_other_duties(tmp_path):
    async with Running(tmp_path) as r:
        good = r.home.config.read_text()
        for bad in (good + "max_x: 1" + "0" * 5000 + "\n", good.replace("\n", "\0\n", 1)):
            r.home.config.write_text(bad)
            await until(lambda: len(r.named("config.invalid")) >= 1)
            r.prd(f"0{len(r.named('config.invalid'))}-after.md", '@fake text "still running"\n')
            await until(lambda: r.status(f"0{len(r.named('config.invalid'))}-after") is Status.COMPLETED)
            await asyncio.sleep(1.2)  # several clock periods
            assert r.engine.config.agent.command.endswith("fake_claude.py")
            r.home.config.write_text(good)
            await until(lambda: not r.engine.settings_problems())
            r.events.clear()
        assert not r.named("engine.error")


@run
async def test_an_agent_whose_version_probe_hangs_never_holds_up_the_start_and_leaves_nothing_behind(tmp_path):
    wrapper = tmp_path / "claude-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then sleep 300 & echo "2.1.197 (Claude Code)"; wait; fi\n'
        f'exec "{sys.executable}" "{FAKE_AGENT}" "$@"\n'
    )
    wrapper.chmod(0o755)
    r = Running(tmp_path, {"agent": {"command": str(wrapper)}})
    started = time.monotonic()
    async with r:
        assert time.monotonic() - started < 3
        r.prd("01-a.md", '@fake text "ran"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
    assert wait_until(lambda: not probe_survivors(), timeout=5)


def probe_survivors() -> list[int]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("OVERNIGHT_RUN", "").startswith("cli-version-probe"):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def write_wrapper(path, body=""):
    """An agent command that runs the stand-in agent."""
    path.write_text(f'#!/bin/sh\n{body}exec "{sys.executable}" "{FAKE_AGENT}" "$@"\n')
    path.chmod(0o755)
    return path


@run
async def test_a_missing_agent_pauses_the_queue_before_anything_starts_and_the_pause_ends_once_it_appears(
        tmp_path):
    agent = tmp_path / "bin" / "claude"
    r = Running(tmp_path, {"agent": {"command": str(agent)}})
    r.prd("01-a.md", '@fake text "ran"\n')
    async with r:
        paused = r.engine.state.paused
        assert paused.reason is PauseReason.SETUP
        assert str(agent) in paused.message and "npm install -g @anthropic-ai/claude-code" in paused.message
        assert r.engine.needs_user().startswith("paused (setup)")
        await asyncio.sleep(1)  # a few clock periods: still waiting, nothing failed
        assert r.status("01-a") is Status.PENDING and not r.named("job.started")
        agent.parent.mkdir()
        write_wrapper(agent)
        await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=20)
        assert r.engine.state.paused is None
        assert "was found" in r.named("queue.resumed")[0]["reason"]


@run
async def test_a_config_that_names_an_existing_agent_ends_the_setup_pause_at_once_and_a_manual_pause_stays(
        tmp_path, monkeypatch):
    monkeypatch.setattr(housekeeping, "AGENT_CHECK_INTERVAL", 3600.0)  # only the config change looks again
    async with Running(tmp_path, {"agent": {"command": "no-such-claude"}}) as r:
        assert r.engine.paused_for(PauseReason.SETUP)
        r.home.config.write_text(r.home.config.read_text().replace("no-such-claude", str(write_wrapper(
            tmp_path / "claude"))))
        await until(lambda: r.engine.state.paused is None, timeout=5)
        await r.engine.handle({"cmd": "pause", "reason": "lunch"})
        r.home.config.write_text(r.home.config.read_text().replace(str(tmp_path / "claude"), "no-such-claude"))
        await until(lambda: r.engine.config.agent.command == "no-such-claude")
        await asyncio.sleep(0.5)
        assert r.engine.state.paused.message == "lunch"


@run
async def test_a_look_for_the_agent_that_hangs_holds_up_neither_the_start_nor_the_queue(tmp_path, monkeypatch):
    release = threading.Event()

    def stuck(command, path):
        release.wait(30)
        return None

    monkeypatch.setattr(housekeeping, "find_agent", stuck)
    started = time.monotonic()
    try:
        async with Running(tmp_path) as r:
            assert time.monotonic() - started < housekeeping.FIRST_AGENT_CHECK_TIMEOUT + 3
            r.prd("01-a.md", '@fake text "ran"\n')
            await until(lambda: r.status("01-a") is Status.COMPLETED)
            assert r.engine.worst_lag < 1
    finally:
        release.set()
