"""A completed run's verify commands (app/engine/verify.py, JobRun.after_run): real shells, real
files, real processes (docs/BEHAVIOUR.md section 13)."""

import json
from dataclasses import replace

import psutil

from app.core import queue_json
from app.core.queue import QueueState, Status
from app.engine import investigation_run
from tests.support import processes_with_marker
from tests.unit.core.factories import job

from .harness import Running, run, until


@run
async def test_a_run_whose_verify_commands_pass_is_completed_and_its_log_has_each_command(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-a.md", '@fake text "done"\n', verify=["echo checking $OVERNIGHT_RUN", "test -d ."])
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        job = r.job("01-a")
        assert job.verify.ok and [c.cmd for c in job.verify.commands] == ["echo checking $OVERNIGHT_RUN", "test -d ."]
        log = (r.home.run_dir(job.last.run_id) / "01-a.verify.log").read_text()
        assert "$ echo checking $OVERNIGHT_RUN\n" in log and f"checking {job.last.run_id}/01-a" in log
        assert "$ test -d .\n" in log
        assert r.named("job.verified") == [{"slug": "01-a", "runId": job.last.run_id, "ok": True, "failed": None}]
        assert job.reason.endswith("; verify passed (2 commands)")
        status = (await r.engine.handle({"cmd": "status"}))["jobs"][0]["verify"]
        assert status["ok"] and [c["exitCode"] for c in status["commands"]] == [0, 0]


@run
async def test_the_configs_verify_runs_when_the_prd_names_none_and_a_failure_fails_the_job(tmp_path, monkeypatch):
    prompts = []

    def spy(**fields):
        prompts.append(real(**fields))
        return prompts[-1]

    real = investigation_run.investigation_prompt
    monkeypatch.setattr(investigation_run, "investigation_prompt", spy)
    async with Running(tmp_path, {"workspace": {"verify": ["echo 3 tests, 1 broken: test_login; exit 3"]}}) as r:
        r.prd("02-b.md", '@fake text "all done, trust me"\n@investigator nothing\n')
        await until(lambda: r.status("02-b") is Status.FAILED and r.named("investigation.finished"))
        job = r.job("02-b")
        assert job.reason == "verify failed: `echo 3 tests, 1 broken: test_login; exit 3` exited 3"
        assert job.last.reason.startswith("result: success")  # the agent's own outcome is kept as it was
        assert r.named("job.verified")[0]["failed"] == "echo 3 tests, 1 broken: test_login; exit 3"
        assert "3 tests, 1 broken: test_login" in prompts[0] and "verify failed" in prompts[0]


@run
async def test_a_failed_agent_is_never_verified(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("03-c.md", "@fake max_turns\n@investigator nothing\n", verify="touch verified")
        await until(lambda: r.status("03-c") is Status.FAILED)
        assert r.job("03-c").verify is None and not (r.project / "verified").exists()
        assert not r.named("job.verified")


@run
async def test_a_verify_that_hangs_is_killed_at_the_timeout_with_everything_it_started(tmp_path):
    async with Running(tmp_path, {"workspace": {"verify_timeout": 1}, "watchdog": {"kill_after": 1}}) as r:
        r.prd("04-d.md", '@fake text "done"\n@investigator nothing\n',
              verify=["true", "setsid sleep 300 & sleep 300", "touch never"])
        await until(lambda: r.status("04-d") is Status.FAILED, timeout=20)
        job = r.job("04-d")
        assert job.reason == "verify failed: `setsid sleep 300 & sleep 300` timed out after 1 s"
        assert [c.exit_code for c in job.verify.commands] == [0, None]
        assert not (r.project / "never").exists()
        marker = f"{job.last.run_id}/04-d"
        assert not [pid for pid in processes_with_marker(marker) if psutil.pid_exists(pid)]


@run
async def test_a_restart_while_verifying_runs_verify_again_from_the_start_and_counts_the_run_once(tmp_path):
    count, flag = tmp_path / "count", tmp_path / "flag"
    r = Running(tmp_path)
    await r.start()
    r.prd("05-e.md", '@fake text "done"\n', verify=f"echo started >> {count}; [ -f {flag} ] || sleep 60")
    await until(lambda: count.exists() and r.job("05-e").reason == "verifying")
    await r.stop(stop_jobs=False)
    assert r.saved()["jobs"][0]["status"] == "running"
    flag.touch()
    await r.start()
    try:
        await until(lambda: r.status("05-e") is Status.COMPLETED, timeout=20)
        assert count.read_text() == "started\nstarted\n"
        job = r.job("05-e")
        assert job.runs == 1 and job.verify.ok
        assert [h["slug"] for h in await r.history() if h["event"] == "run.finished"] == ["05-e"]
        assert not processes_with_marker(f"{job.last.run_id}/05-e")
    finally:
        await r.stop(stop_jobs=True)


@run
async def test_cancelling_a_job_while_it_verifies_stops_the_command_and_cancels_the_job(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("06-f.md", '@fake text "done"\n', verify="sleep 300")
        await until(lambda: r.status("06-f") is Status.RUNNING and r.job("06-f").reason == "verifying")
        assert (await r.engine.handle({"cmd": "cancel", "slug": "06-f"}))["ok"]
        await until(lambda: r.status("06-f") is Status.CANCELLED)
        assert r.job("06-f").reason == "cancelled while verifying"
        assert not processes_with_marker(f"{r.job('06-f').last.run_id}/06-f")


@run
async def test_quitting_and_stopping_the_agents_while_verifying_ends_the_command_and_the_job_waits_again(tmp_path):
    r = Running(tmp_path)
    await r.start()
    r.prd("07-g.md", '@fake text "done"\n', verify="sleep 300")
    await until(lambda: r.status("07-g") is Status.RUNNING and r.job("07-g").reason == "verifying")
    run_id = r.job("07-g").current.run_id
    await r.stop(stop_jobs=True)
    saved = r.saved()["jobs"][0]
    assert saved["status"] == "pending" and "quit" in saved["reason"]
    assert not processes_with_marker(f"{run_id}/07-g")


@run
async def test_a_job_that_needs_review_can_be_re_run_and_its_dependents_wait_for_it(tmp_path):
    r = Running(tmp_path)
    review = replace(job("01-a", Status.NEEDS_REVIEW), cwd=str(r.project), reason="finished without changing anything")
    r.home.queue.write_text(json.dumps(queue_json.state_to_json(QueueState(jobs={"01-a": review}))))
    r.prd("01-a.md", '@fake text "again"\n')
    r.prd("02-b.md", '@fake text "after a"\n', dependsOn=["01-a"])
    await r.start()
    try:
        await until(lambda: r.status("02-b") is Status.PENDING)
        assert r.engine.is_idle()  # nothing more happens without the user
        assert not r.named("job.started")
        assert (await r.engine.handle({"cmd": "rerun", "slug": "01-a"}))["ok"]
        await until(lambda: r.status("02-b") is Status.COMPLETED)
        assert r.status("01-a") is Status.COMPLETED
    finally:
        await r.stop(stop_jobs=True)
