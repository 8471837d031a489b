"""The clock's duties and the usage meter (app/engine/housekeeping.py): pruning, the CLI version
probe, config changes (docs/BEHAVIOUR.md sections 6 and 9)."""

import asyncio
import sys
import time

import psutil

from app.core.queue import Status
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
