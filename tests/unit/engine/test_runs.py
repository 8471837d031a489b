"""Every run's life, jobs and investigations alike (app/engine/runs.py, run_kinds.py): started,
supervised, finished, adopted after a restart; real files, real processes (docs/BEHAVIOUR.md 7–9)."""

import json
import os
import signal

import psutil

from app.core.queue import InvestigationStatus, Status
from tests.support import processes_with_marker

from .harness import Running, run, until


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
async def test_an_agent_command_that_exists_but_cannot_be_run_fails_the_job_with_the_fix_and_no_investigation(
        tmp_path):
    agent = tmp_path / "claude"
    agent.write_bytes(b"\x7fELF but not really")
    agent.chmod(0o755)
    async with Running(tmp_path, {"agent": {"command": str(agent)}}) as r:
        r.prd("01-a.md", "hello\n")
        await until(lambda: r.status("01-a") is Status.FAILED)
        assert f"could not start {agent}" in r.job("01-a").reason
        assert r.job("01-a").investigation is None
        assert r.engine.state.paused is None


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
async def test_the_max_duration_watchdog_stops_a_run_that_takes_too_long(tmp_path):
    async with Running(tmp_path, {"watchdog": {"max_duration": 0.8, "kill_after": 1}}) as r:
        r.prd("01-slow.md", '@fake text "working"\n@fake sleep 30\n@investigator nothing\n')
        await until(lambda: r.status("01-slow") is Status.FAILED, timeout=10)
        assert "max_duration" in r.job("01-slow").reason


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
async def test_a_rate_limit_event_with_a_reset_time_out_of_range_does_not_end_a_healthy_run(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-a.md", '@fake limit_event {"status": "rejected", "resetsAt": 99999999999999}\n'
                         '@fake limit_event {"status": "rejected", "resetsAt": 253402300799}\n@fake text "done"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert not r.named("engine.error")
