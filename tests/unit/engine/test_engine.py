"""The engine with real files, real processes and a real folder watcher (SPEC 4–9)."""

import asyncio
import errno
import json
import os
import signal
import stat
import sys
import time

import psutil

from app.core.queue import InvestigationStatus, PauseReason, Status
from app.engine import housekeeping
from app.engine import store

from tests.support import FAKE_AGENT, processes_with_marker, wait_until

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
async def test_the_prompt_goes_on_stdin_and_the_environment_carries_the_marker_not_nested_session_markers(tmp_path):
    async with Running(tmp_path) as r:
        r.environ["CLAUDECODE"] = "1"
        r.engine.environ["CLAUDECODE"] = "1"
        r.prd("01-env.md", "@fake env \"OVERNIGHT_RUN\"\n@fake env \"CLAUDECODE\"\n")
        await until(lambda: r.status("01-env") is Status.COMPLETED)
        job = r.job("01-env")
        transcript = (r.home.run_dir(job.last.run_id) / "01-env.jsonl").read_text()
        assert f"OVERNIGHT_RUN={job.last.run_id}/01-env" in transcript
        assert '"text":"CLAUDECODE="' in transcript
        meta = json.loads((r.home.run_dir(job.last.run_id) / "01-env.meta.json").read_text())
        assert "@fake" not in " ".join(meta["argv"])


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
async def test_a_failed_job_gets_an_investigation_whose_fix_plan_runs_next(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("03-broken.md", "@fake max_turns\n")
        await until(lambda: r.status("03-fix-broken") is Status.COMPLETED, timeout=20)
        failed = r.job("03-broken")
        assert failed.status is Status.FAILED
        assert "error_max_turns" in failed.reason
        assert failed.fix_plan_slug == "03-fix-broken"
        assert failed.investigation.status is InvestigationStatus.WROTE_FIX_PLAN
        assert r.job("03-fix-broken").investigation_of == "03-broken"
        assert r.job("03-fix-broken").group == 3
        log = r.home.run_dir(failed.last.run_id) / "03-broken.investigation.jsonl"
        assert log.exists() and '"type":"result"' in log.read_text()
        assert r.named("investigation.finished")[0]["fixPlan"] == "03-fix-broken"


@run
async def test_an_investigation_that_writes_nothing_is_recorded_and_not_retried(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("04-broken.md", "@fake max_turns\n@investigator nothing\n")
        await until(lambda: r.investigation("04-broken") is InvestigationStatus.NO_FIX_PLAN, timeout=15)
        assert "without writing the fix plan" in r.job("04-broken").investigation.reason
        assert len(r.named("investigation.started")) == 1
        assert r.engine.is_idle()


@run
async def test_an_invalid_prd_is_reported_never_run_and_left_untouched(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-bad.md", "@fake text \"x\"\n", parallelGroup="soon")
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        await until(lambda: r.status("01-bad") is Status.INVALID)
        assert "parallelGroup is 'soon'" in r.job("01-bad").reason
        assert r.named("prd.invalid")[0]["slug"] == "01-bad"
        assert r.named("job.started") == []
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


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
async def test_the_post_result_watchdog_stops_an_agent_that_lingers_and_the_job_completed(tmp_path):
    async with Running(tmp_path, {"watchdog": {"post_result_grace": 0.5, "kill_after": 1}}) as r:
        r.prd("01-linger.md", "@fake result\n@fake hang\n")
        await until(lambda: r.status("01-linger") is Status.COMPLETED, timeout=10)
        assert "did not exit after its result" in r.job("01-linger").reason


@run
async def test_the_idle_watchdog_fails_a_silent_agent(tmp_path):
    async with Running(tmp_path, {"watchdog": {"idle": 0.7, "kill_after": 1}}) as r:
        r.prd("01-silent.md", "@fake hang\n@investigator nothing\n")
        await until(lambda: r.status("01-silent") is Status.FAILED, timeout=10)
        assert "idle watchdog" in r.job("01-silent").reason


@run
async def test_an_agents_orphaned_background_process_does_not_survive_the_run(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-orphan.md", '@fake orphan {"seconds": 300}\n@fake text "done"\n')
        await until(lambda: r.status("01-orphan") is Status.COMPLETED)
        marker = f"{r.job('01-orphan').last.run_id}/01-orphan"
        await until(lambda: not processes_with_marker(marker), timeout=10)
        assert r.named("run.leftovers_killed")


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
async def test_a_missing_agent_binary_fails_the_job_with_the_fix_and_no_investigation(tmp_path):
    async with Running(tmp_path, {"agent": {"command": "no-such-claude"}}) as r:
        r.prd("01-a.md", "hello\n")
        await until(lambda: r.status("01-a") is Status.FAILED)
        assert "not found on PATH" in r.job("01-a").reason
        assert r.job("01-a").investigation is None


@run
async def test_a_prd_removed_while_running_leaves_the_queue_when_the_run_ends(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-a.md", "@fake sleep 2\n")
        await until(lambda: r.named("job.started"))  # removed once its agent has its prompt
        path.unlink()
        # Under load the run may end before the flag is seen: either way the row leaves.
        await until(lambda: r.status("01-a") is None or r.job("01-a").file_gone)
        await until(lambda: r.status("01-a") is None, timeout=10)
        assert [h["outcome"] for h in await r.history() if h["event"] == "run.finished"] == ["completed"]


@run
async def test_an_engine_that_quits_leaves_its_agents_running_and_the_next_one_adopts_them(tmp_path):
    r = Running(tmp_path)
    await r.start()
    r.prd("01-long.md", "@fake sleep 2\n@fake text \"finished\"\n")
    await until(lambda: r.status("01-long") is Status.RUNNING and r.job("01-long").current.pid)
    pid = r.job("01-long").current.pid
    await r.stop(stop_jobs=False)
    assert psutil.pid_exists(pid)
    await r.start()
    try:
        assert r.named("job.adopted")[0]["pid"] == pid
        await until(lambda: r.status("01-long") is Status.COMPLETED, timeout=15)
        assert [h["slug"] for h in await r.history() if h["event"] == "run.finished"] == ["01-long"]
        assert len(r.named("job.started")) == 1
    finally:
        await r.stop(stop_jobs=True)


@run
async def test_quitting_while_a_run_is_being_started_leaves_it_supervised_not_orphaned(tmp_path):
    r = Running(tmp_path, {"fire_policy": "manual"})
    await r.start()
    r.prd("01-a.md", "@fake sleep 2\n@fake text \"done\"\n")
    await until(lambda: r.status("01-a") is Status.PENDING)
    assert await r.engine.handle({"cmd": "run", "slug": "01-a"}) == {"ok": True}
    await r.stop(stop_jobs=False)  # at once: the start has only just begun
    saved = r.saved()["jobs"][0]
    assert saved["status"] == "running" and psutil.pid_exists(saved["current"]["pid"])
    await r.start()
    try:
        assert r.named("job.adopted")[0]["pid"] == saved["current"]["pid"]
        await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=15)
    finally:
        await r.stop(stop_jobs=True)


@run
async def test_a_run_that_died_while_no_engine_watched_is_classified_from_its_log(tmp_path):
    r = Running(tmp_path)
    await r.start()
    r.prd("01-a.md", "@fake text \"x\"\n@fake sleep 30\n")
    await until(lambda: r.status("01-a") is Status.RUNNING and r.job("01-a").current.pid)
    pid = r.job("01-a").current.pid
    await r.stop(stop_jobs=False)
    os.killpg(pid, signal.SIGKILL)
    await until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    await r.start()
    try:
        # No result in its log: interrupted, and retried once.
        await until(lambda: r.status("01-a") in (Status.RUNNING, Status.PENDING))
        assert r.job("01-a").interrupted_retries == 1
        assert "interrupted" in (await r.history())[0]["reason"]
    finally:
        await r.stop(stop_jobs=True)



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
async def test_the_max_duration_watchdog_stops_a_run_that_takes_too_long(tmp_path):
    async with Running(tmp_path, {"watchdog": {"max_duration": 0.8, "kill_after": 1}}) as r:
        r.prd("01-slow.md", '@fake text "working"\n@fake sleep 30\n@investigator nothing\n')
        await until(lambda: r.status("01-slow") is Status.FAILED, timeout=10)
        assert "max_duration" in r.job("01-slow").reason


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
async def test_a_prd_removed_before_its_agent_started_is_not_started_and_leaves_the_queue(tmp_path):
    async with Running(tmp_path, {"fire_policy": "manual"}) as r:
        path = r.prd("01-a.md", '@fake text "never"\n')
        await until(lambda: r.status("01-a") is Status.PENDING)
        real_read = r.engine.folder.read_prd

        async def removed_meanwhile(slug):
            path.unlink()  # between the start's record and its prompt being read
            return await real_read(slug)

        r.engine.folder.read_prd = removed_meanwhile
        await r.engine.handle({"cmd": "tick"})
        await until(lambda: r.status("01-a") is None)
        assert not r.named("job.started") and r.named("job.not_started")
        assert not [h for h in await r.history() if h["event"] == "run.finished"]


@run
async def test_a_job_whose_prd_was_edited_during_a_failed_run_runs_again_with_the_new_version(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-a.md", "@fake sleep 0.8\n@fake max_turns\n")
        await until(lambda: r.named("job.started"))  # its agent has read the prompt
        path.write_text('@fake text "fixed by hand"\n')
        await until(lambda: r.job("01-a").reason == "PRD changed during run")
        await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=15)
        assert [e["outcome"] for e in r.named("job.finished")] == ["failed", "completed"]
        assert r.named("investigation.started") == []


@run
async def test_editing_a_failed_prd_queues_it_again(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-a.md", "@fake max_turns\n@investigator nothing\n")
        await until(lambda: r.status("01-a") is Status.FAILED)
        path.write_text('@fake text "second try"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert r.job("01-a").runs == 2


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
async def test_a_run_whose_pid_was_never_saved_is_found_by_its_marker_and_adopted(tmp_path):
    r = Running(tmp_path)
    await r.start()
    r.prd("01-a.md", "@fake sleep 2\n")
    await until(lambda: r.status("01-a") is Status.RUNNING and r.job("01-a").current.pid)
    pid = r.job("01-a").current.pid
    await r.stop(stop_jobs=False)
    # As if the engine had died between starting the process and saving its pid.
    saved = r.saved()
    saved["jobs"][0]["current"].update(pid=None, pidCreateTime=None)
    r.home.queue.write_text(json.dumps(saved))
    await r.start()
    try:
        assert r.named("job.adopted")[-1]["pid"] == pid
        await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=10)
        assert len(r.named("job.started")) == 1
    finally:
        await r.stop(stop_jobs=True)


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
async def test_an_investigation_stopped_by_quitting_waits_and_runs_again_at_the_next_start(tmp_path):
    r = Running(tmp_path)
    await r.start()
    r.prd("01-a.md", "@fake max_turns\n@investigator sleep 30\n")
    await until(lambda: r.investigation("01-a") is InvestigationStatus.RUNNING, timeout=10)
    await r.stop(stop_jobs=True)
    saved = r.saved()["jobs"][0]["investigation"]
    assert saved["status"] == "waiting" and saved["reason"] == "stopped when Overnight quit"
    await r.start()
    try:
        # Recorded running first, then started: the event says its process exists.
        await until(lambda: len(r.named("investigation.started")) == 2, timeout=10)
        assert r.investigation("01-a") is InvestigationStatus.RUNNING
    finally:
        await r.stop(stop_jobs=True)


@run
async def test_a_cancel_begun_before_a_restart_is_carried_out_after_it(tmp_path):
    r = Running(tmp_path, {"watchdog": {"kill_after": 30}})
    await r.start()
    # An agent that ignores SIGTERM, so the cancel is still under way when the engine quits.
    r.prd("01-stubborn.md", "@fake sleep 60\n")
    await until(lambda: r.status("01-stubborn") is Status.RUNNING and r.job("01-stubborn").current.pid)
    pid = r.job("01-stubborn").current.pid
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM until SIGCONT
    # Stopping takes effect when the process next runs; a SIGTERM that came first would end it.
    await until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
    await r.engine.handle({"cmd": "cancel", "slug": "01-stubborn"})
    await until(lambda: r.job("01-stubborn").current.stopping == "cancel")
    await r.stop(stop_jobs=False)
    await r.start()
    try:
        os.kill(pid, signal.SIGCONT)
        await until(lambda: r.status("01-stubborn") is Status.CANCELLED, timeout=10)
    finally:
        await r.stop(stop_jobs=True)


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
async def test_a_run_record_pointing_at_a_missing_folder_goes_back_to_pending_once_and_the_engine_starts(tmp_path):
    r = Running(tmp_path)
    await r.start()
    await r.engine.handle({"cmd": "pause"})
    r.prd("01-a.md", '@fake text "ran"\n')
    await until(lambda: r.status("01-a") is Status.PENDING)
    await r.stop(stop_jobs=True)
    # As if the engine had been killed after recording the run and before making its folder.
    saved = r.saved()
    run_id = "20261122-030000-abcdef"
    saved["jobs"][0].update(status="running", runs=1, current={
        "runId": run_id, "startedAt": "2026-11-22T03:00:00.000Z", "contentHash": saved["jobs"][0]["contentHash"],
        "logPath": str(r.home.run_dir(run_id) / "01-a.jsonl"), "pid": None, "pidCreateTime": None})
    r.home.queue.write_text(json.dumps(saved))
    async with r:
        assert r.status("01-a") is Status.PENDING
        assert "interrupted" in r.job("01-a").reason
        await r.engine.handle({"cmd": "resume"})
        await until(lambda: r.status("01-a") is Status.COMPLETED)
    assert not r.named("engine.error")
    assert len(r.named("job.started")) == 1


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
async def test_an_engine_starts_with_a_config_holding_a_nul_byte_or_a_huge_number(tmp_path):
    for bad in ("concurrency_cap: 2\0\n", f"concurrency_cap: 1{'0' * 5000}\n"):
        r = Running(tmp_path / str(len(bad)))
        r.home.config.write_text(bad)
        async with r:
            assert r.named("config.invalid")
            assert r.engine.settings_problems() and r.engine.config.concurrency_cap == 4


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


@run
async def test_a_rate_limit_event_with_a_reset_time_out_of_range_does_not_end_a_healthy_run(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-a.md", '@fake limit_event {"status": "rejected", "resetsAt": 99999999999999}\n'
                         '@fake limit_event {"status": "rejected", "resetsAt": 253402300799}\n@fake text "done"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert not r.named("engine.error")


@run
async def test_a_loop_stall_is_reported_as_engine_lag(tmp_path):
    async with Running(tmp_path) as r:
        await asyncio.sleep(0.3)  # the monitor is watching
        time.sleep(0.5)  # blocks the engine's loop, as a slow callback would
        await until(lambda: r.named("engine.lag"))
        assert r.named("engine.lag")[0]["lagMs"] >= 250
        assert r.engine.worst_lag >= 0.25
