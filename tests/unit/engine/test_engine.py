"""The engine with real files, real processes and a real folder watcher (docs/BEHAVIOUR.md sections 4–9)."""

import asyncio
import errno
import json
import stat
import time

from app.core.queue import PauseReason, Status
from app.engine import housekeeping, store

from .harness import Running, run, until


@run
async def test_a_dropped_prd_runs_and_everything_about_the_run_is_on_disk(tmp_path):
    async with Running(tmp_path) as r:
        prd = r.prd("01-hello.md", '@fake text "hello"\n@fake write {"file_path": "out.txt", "content": "A"}\n')
        before = prd.read_bytes()
        await until(lambda: r.status("01-hello") is Status.COMPLETED)
        job = r.job("01-hello")
        assert (r.project / "out.txt").read_text() == "A"
        run_dir = r.home.run_dir(job.last.run_id)
        transcript = (run_dir / "01-hello.jsonl").read_text()
        assert '"text":"hello"' in transcript and '"type":"result"' in transcript
        meta = json.loads((run_dir / "01-hello.meta.json").read_text())
        assert meta["outcome"] == "completed" and meta["argv"][1:3] == ["-p", "--output-format"]
        assert stat.S_IMODE((run_dir / "01-hello.jsonl").stat().st_mode) == 0o600
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
        assert [h["outcome"] for h in await r.history() if h["event"] == "run.finished"] == ["completed"]
        await r.engine.flush()
        assert r.saved()["jobs"][0]["status"] == "completed"
        assert prd.read_bytes() == before
        assert [e["slug"] for e in r.named("job.started")] == ["01-hello"]


@run
async def test_groups_run_in_order_under_the_cap_at_every_instant(tmp_path):
    snapshots = []
    async with Running(tmp_path, {"concurrency_cap": 2}) as r:
        r.engine.subscribe_state(lambda state, changed: snapshots.append(
            sorted((j.group, j.slug) for j in state.jobs.values() if j.status is Status.RUNNING)))
        await r.engine.handle({"cmd": "pause"})
        for group in (1, 2, 3):
            for index in range(3):
                r.prd(f"{group:02d}-job{index}.md", "@fake sleep 0.3\n")
        await until(lambda: len(r.engine.state.jobs) == 9)
        await r.engine.handle({"cmd": "resume"})
        await until(lambda: all(j.status is Status.COMPLETED for j in r.engine.state.jobs.values()), timeout=30)
    for running in snapshots:
        assert len(running) <= 2
        groups = {group for group, _ in running}
        assert len(groups) <= 1, running
    starts = [e["slug"] for e in r.named("job.started")]
    assert [s[:2] for s in starts] == ["01"] * 3 + ["02"] * 3 + ["03"] * 3


@run
async def test_a_lower_group_arriving_late_runs_beside_a_running_higher_group(tmp_path):
    async with Running(tmp_path, {"concurrency_cap": 3}) as r:
        r.prd("05-long.md", "@fake sleep 3\n")
        await until(lambda: r.status("05-long") is Status.RUNNING)
        r.prd("02-late.md", '@fake text "late"\n')
        await until(lambda: r.status("02-late") is Status.COMPLETED, timeout=10)
        assert r.status("05-long") is Status.RUNNING


@run
async def test_a_usage_limit_sends_the_job_back_to_pending_and_pauses_until_the_reset(tmp_path):
    async with Running(tmp_path, {"usage": {"resume_margin": 0}}) as r:
        r.prd("01-limited.md", '@fake ratelimit {"reset_in": 2}\n')
        await until(lambda: r.engine.state.paused is not None)
        paused = r.engine.state.paused
        assert paused.reason is PauseReason.RATE_LIMIT and paused.resume_at is not None
        assert r.status("01-limited") is Status.PENDING
        assert r.job("01-limited").last.outcome == "rate_limited"
        assert r.named("queue.paused")[0]["reason"] == "rate_limit"
        await until(lambda: r.engine.state.paused is None, timeout=10)
        assert r.named("queue.resumed")


@run
async def test_a_config_change_is_picked_up_without_a_restart_and_a_bad_one_keeps_the_old_settings(tmp_path):
    async with Running(tmp_path) as r:
        text = r.home.config.read_text()
        r.home.config.write_text(text + "concurrency_cap: 7\n")
        await until(lambda: r.engine.cap() == 7, timeout=5)
        r.home.config.write_text(text + "concurrency_cap: many\n")
        await until(lambda: r.named("config.invalid"), timeout=5)
        assert r.engine.cap() == 7
        assert "concurrency_cap is 'many'" in r.named("config.invalid")[0]["message"]
        assert "concurrency_cap: many" in r.home.config.read_text()


@run
async def test_a_bad_max_concurrency_variable_is_reported_not_silently_ignored(tmp_path):
    r = Running(tmp_path, {"concurrency_cap": 3})
    r.environ["OVERNIGHT_MAX_CONCURRENCY"] = "lots"
    await r.start()
    try:
        status = await r.engine.handle({"cmd": "status"})
        assert status["cap"] == 3
        assert any("OVERNIGHT_MAX_CONCURRENCY is 'lots'" in problem for problem in status["problems"])
    finally:
        await r.stop(stop_jobs=True)


# ---------------------------------------------------------------- nothing in the home stops the queue


@run
async def test_a_start_that_cannot_be_made_durable_never_begins_and_the_queue_pauses_until_writing_works(
        tmp_path, monkeypatch):
    monkeypatch.setattr(housekeeping, "DISK_CHECK_INTERVAL", 0.3)
    async with Running(tmp_path, {"concurrency_cap": 1}) as r:
        await r.engine.handle({"cmd": "pause"})
        r.prd("01-a.md", '@fake text "a"\n')
        r.prd("01-b.md", '@fake text "b"\n')
        await until(lambda: r.status("01-b") is Status.PENDING)
        disk = FullQueueDisk(monkeypatch)
        await r.engine.handle({"cmd": "resume"})
        await until(lambda: r.engine.state.paused and r.engine.state.paused.reason is PauseReason.DISK)
        assert "No space left on device" in r.engine.state.paused.message
        await asyncio.sleep(0.8)
        assert {r.status("01-a"), r.status("01-b")} == {Status.PENDING}
        assert r.job("01-a").runs == 0 and not r.named("job.started")
        disk.full = False
        await until(lambda: r.status("01-a") is Status.COMPLETED and r.status("01-b") is Status.COMPLETED)
        assert r.engine.state.paused is None
        assert [e["reason"] for e in r.named("queue.resumed")][-1] == "writing works again"
    saved = json.loads(r.home.queue.read_text())
    assert {job["status"] for job in saved["jobs"]} == {"completed"}


class FullQueueDisk:
    """ENOSPC from every queue.json write while `full` is set (history goes through: its own test)."""

    def __init__(self, monkeypatch) -> None:
        self.full = True
        real = store.write_private_atomically

        def write(path, data):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real(path, data)

        monkeypatch.setattr(store, "write_private_atomically", write)


@run
async def test_an_engine_starts_with_a_config_holding_a_nul_byte_or_a_huge_number(tmp_path):
    for bad in ("concurrency_cap: 2\0\n", f"concurrency_cap: 1{'0' * 5000}\n"):
        r = Running(tmp_path / str(len(bad)))
        r.home.config.write_text(bad)
        async with r:
            assert r.named("config.invalid")
            assert r.engine.settings_problems() and r.engine.config.concurrency_cap == 4


@run
async def test_a_loop_stall_is_reported_as_engine_lag(tmp_path):
    async with Running(tmp_path) as r:
        await asyncio.sleep(0.3)  # the monitor is watching
        time.sleep(0.5)  # blocks the engine's loop, as a slow callback would
        await until(lambda: r.named("engine.lag"))
        assert r.named("engine.lag")[0]["lagMs"] >= 250
        assert r.engine.worst_lag >= 0.25
