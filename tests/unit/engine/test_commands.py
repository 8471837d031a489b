"""What users ask of the engine (app/engine/commands.py): cancel, run now, archive, force tick
(docs/BEHAVIOUR.md sections 9 and 11)."""

import asyncio

import psutil

from app.core.queue import Status

from .harness import Running, run, until


@run
async def test_cancel_stops_a_running_job_and_its_tree(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-long.md", "@fake sleep 60\n")
        await until(lambda: r.status("01-long") is Status.RUNNING and r.job("01-long").current.pid)
        pid = r.job("01-long").current.pid
        assert await r.engine.handle({"cmd": "cancel", "slug": "01-long"}) == {"ok": True}
        await until(lambda: r.status("01-long") is Status.CANCELLED, timeout=10)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@run
async def test_manual_policy_starts_nothing_until_force_tick_which_starts_one_batch(tmp_path):
    async with Running(tmp_path, {"fire_policy": "manual"}) as r:
        r.prd("01-a.md", '@fake text "a"\n')
        await until(lambda: r.status("01-a") is Status.PENDING)
        await r.engine.flush()
        assert r.named("job.started") == []
        assert (await r.engine.handle({"cmd": "status"}))["gate"]["reason"].startswith("fire policy is manual")
        assert await r.engine.handle({"cmd": "tick"}) == {"ok": True}
        await until(lambda: r.status("01-a") is Status.COMPLETED)


@run
async def test_force_tick_clears_a_pause(tmp_path):
    async with Running(tmp_path) as r:
        await r.engine.handle({"cmd": "pause", "reason": "wait"})
        r.prd("01-a.md", '@fake text "a"\n')
        await until(lambda: r.status("01-a") is Status.PENDING)
        await r.engine.handle({"cmd": "tick"})
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert r.engine.state.paused is None
        assert r.named("queue.resumed")[0]["reason"] == "force tick"


@run
async def test_run_now_starts_one_job_ahead_of_its_group(tmp_path):
    async with Running(tmp_path) as r:
        await r.engine.handle({"cmd": "pause"})
        r.prd("01-first.md", '@fake text "1"\n')
        r.prd("09-later.md", '@fake text "9"\n')
        await until(lambda: r.status("09-later") is Status.PENDING)
        assert await r.engine.handle({"cmd": "run", "slug": "09-later"}) == {"ok": True}
        await until(lambda: r.status("09-later") is Status.COMPLETED)
        assert r.status("01-first") is Status.PENDING
        refused = await r.engine.handle({"cmd": "run", "slug": "09-later"})
        assert refused["ok"] is False and "only a pending job" in refused["error"]


@run
async def test_archive_moves_the_prd_aside_never_while_it_runs(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-a.md", "@fake sleep 1\n")
        await until(lambda: r.status("01-a") is Status.RUNNING)
        refused = await r.engine.handle({"cmd": "archive", "slug": "01-a"})
        assert refused["ok"] is False and "cancel it before archiving" in refused["error"]
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert await r.engine.handle({"cmd": "archive", "slug": "01-a"}) == {"ok": True}
        assert r.status("01-a") is None
        assert (r.home.archive / "01-a.md").read_text() == "@fake sleep 1\n"
        assert any(h["event"] == "archived" for h in await r.history())
        await asyncio.sleep(0.5)  # the folder event for the move must not bring it back
        assert r.status("01-a") is None


@run
async def test_a_running_or_invalid_job_cannot_be_reset_so_it_never_runs_twice(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-long.md", "@fake sleep 60\n")
        r.prd("02-bad.md", "body\n", parallelGroup="two")
        await until(lambda: r.status("01-long") is Status.RUNNING and r.status("02-bad") is Status.INVALID)
        refused = await r.engine.handle({"cmd": "reset", "slug": "01-long"})
        assert refused["ok"] is False and "running" in refused["error"]
        assert (await r.engine.handle({"cmd": "reset", "slug": "02-bad"}))["ok"] is False
        # Still the one run: a pending row under a live run is what a tick would start again.
        assert r.status("01-long") is Status.RUNNING and r.job("01-long").runs == 1
