"""docs/BEHAVIOUR.md section 11: the command line, as a user runs it (real processes, real socket)."""

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.queue import QueueState, Resume, Status
from app.core.queue_json import state_to_json
from tests.support import make_home, overnight, wait_until, write_prd
from tests.unit.core.factories import job, jobs

SUBCOMMANDS = ("gui", "run", "status", "add", "pause", "resume", "tick", "cancel", "rerun", "approve", "discard",
               "accept", "merge", "report", "doctor", "install-desktop")


@pytest.fixture
def setup(tmp_path):
    home, environ, project = make_home(tmp_path)
    return home, environ, project


def test_help_lists_every_subcommand():
    out = overnight("--help")
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        assert name in out.stdout


def test_home_is_accepted_before_or_after_the_subcommand(setup):
    home, environ, _ = setup
    write_prd(home, "01-a.md", "body")
    before = overnight("--home", str(home.root), "status", "--json", env=environ)
    after = overnight("status", "--json", "--home", str(home.root), env=environ)
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_a_bad_option_is_a_usage_error_with_exit_code_2():
    out = overnight("run", "--no-such-option")
    assert out.returncode == 2
    assert "--no-such-option" in out.stderr


def test_run_until_idle_runs_a_folder_of_prds_in_order_and_exits_0(setup):
    home, environ, project = setup
    write_prd(home, "02-second.md", '@fake write {"file_path": "second.txt", "content": "2"}\n')
    write_prd(home, "01-first.md", '@fake write {"file_path": "first.txt", "content": "1"}\n')
    out = overnight("run", "--home", str(home.root), "--until-idle", "--json-logs", env=environ)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stderr.splitlines()]
    assert all({"ts", "level", "event"} <= set(event) for event in events)
    started = [e["slug"] for e in events if e["event"] == "job.started"]
    assert started == ["01-first", "02-second"]
    assert [e["outcome"] for e in events if e["event"] == "job.finished"] == ["completed", "completed"]
    assert events[0]["event"] == "engine.started" and events[-1]["event"] == "engine.stopped"
    assert (project / "first.txt").read_text() == "1" and (project / "second.txt").read_text() == "2"
    status = json.loads(overnight("status", "--json", "--home", str(home.root), env=environ).stdout)
    assert status["engine"] is None
    assert [(j["slug"], j["status"]) for j in status["jobs"]] == [("01-first", "completed"), ("02-second", "completed")]


def test_run_until_idle_exits_3_on_a_pause_that_needs_the_user(setup):
    home, environ, _ = setup
    home.config.write_text(home.config.read_text() + "fire_policy: manual\n")
    write_prd(home, "01-a.md", "body")
    out = overnight("run", "--home", str(home.root), "--until-idle", env=environ)
    assert out.returncode == 3
    assert "manual" in out.stderr


def test_run_until_idle_exits_3_when_the_queue_file_was_damaged(setup):
    home, environ, _ = setup
    home.queue.write_text("{broken")
    write_prd(home, "01-a.md", "body")
    out = overnight("run", "--home", str(home.root), "--until-idle", env=environ)
    assert out.returncode == 3
    assert "paused (state)" in out.stderr
    assert list(home.root.glob("queue.json.corrupt-*"))


def test_commands_reach_the_running_engine_and_a_second_engine_is_refused(setup):
    home, environ, _ = setup
    engine = subprocess.Popen(
        [sys.executable, "-m", "app", "run", "--home", str(home.root)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(lambda: overnight("status", "--json", "--home", str(home.root), env=environ).stdout.find(
            '"pid"') >= 0, timeout=20)
        second = overnight("run", "--home", str(home.root), env=environ)
        assert second.returncode == 1
        assert f"pid {engine.pid}" in second.stderr

        assert overnight("pause", "--reason", "lunch", "--home", str(home.root), env=environ).returncode == 0
        status = json.loads(overnight("status", "--json", "--home", str(home.root), env=environ).stdout)
        assert status["paused"]["reason"] == "manual" and status["paused"]["message"] == "lunch"
        assert status["engine"]["pid"] == engine.pid

        write_prd(home, "01-a.md", '@fake text "hi"\n')
        human = overnight("status", "--home", str(home.root), env=environ).stdout
        assert "paused (manual)" in human
        assert overnight("resume", "--home", str(home.root), env=environ).returncode == 0
        wait_until(lambda: '"completed"' in overnight("status", "--json", "--home", str(home.root), env=environ).stdout)
        refused = overnight("rerun", "no-such-job", "--home", str(home.root), env=environ)
        assert refused.returncode == 1 and "no job 'no-such-job'" in refused.stderr
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(20) == 0


def test_approve_runs_a_held_fix_plan_and_an_unknown_slug_is_refused(tmp_path):
    home, environ, _ = make_home(tmp_path, {"investigation": {"auto_run": False}})
    engine = subprocess.Popen(
        [sys.executable, "-m", "app", "run", "--home", str(home.root)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )

    def investigation():
        status = json.loads(overnight("status", "--json", "--home", str(home.root), env=environ).stdout)
        jobs = {job["slug"]: job for job in status["jobs"]}
        return jobs, (jobs["03-broken"]["investigation"] or {}) if "03-broken" in jobs else {}

    try:
        write_prd(home, "03-broken.md", "@fake max_turns\n")
        wait_until(lambda: investigation()[1].get("status") == "held", timeout=30)
        jobs, held = investigation()
        assert held["planPath"] == str(home.fix_plans / "03-fix-broken.md") and "03-fix-broken" not in jobs

        refused = overnight("approve", "03-broken", "--home", str(home.root), env=environ)
        assert refused.returncode == 1
        assert "no fix plan '03-broken' awaits approval (awaiting approval: 03-fix-broken)" in refused.stderr
        approved = overnight("approve", "03-fix-broken", "--home", str(home.root), env=environ)
        assert approved.returncode == 0 and "03-fix-broken moved into prds/" in approved.stdout
        wait_until(lambda: investigation()[0].get("03-fix-broken", {}).get("status") == "completed", timeout=30)
        assert investigation()[0]["03-broken"]["fixPlanSlug"] == "03-fix-broken"
    finally:
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(20) == 0


def test_commands_without_an_engine_say_how_to_start_one(setup):
    home, environ, _ = setup
    out = overnight("pause", "--home", str(home.root), env=environ)
    assert out.returncode == 1
    assert "no engine is running" in out.stderr


def test_add_copies_valid_prds_with_a_group_prefix_and_refuses_invalid_ones(setup, tmp_path):
    home, environ, _ = setup
    good = tmp_path / "login page.md"
    good.write_text("Add a login page.\n")
    bad = tmp_path / "broken.md"
    bad.write_text("---\nparallelGroup: soon\n---\nbody\n")
    out = overnight("add", str(good), str(bad), "--group", "4", "--home", str(home.root), env=environ)
    assert out.returncode == 1
    assert (home.prds / "04-login-page.md").read_text() == "Add a login page.\n"
    assert "parallelGroup is 'soon'" in out.stderr
    assert not (home.prds / "04-broken.md").exists()
    assert bad.read_text() == "---\nparallelGroup: soon\n---\nbody\n"


def test_run_until_idle_leaves_the_report_and_overnight_report_prints_the_period_since_it(setup):
    home, environ, _ = setup
    write_prd(home, "01-first.md", '@fake result {"text": "Wrote first.txt as asked."}\n')
    write_prd(home, "02-second.md", "body", dependsOn=["99-missing"])
    assert overnight("run", "--home", str(home.root), "--until-idle", env=environ).returncode == 0
    [drained] = list(home.reports.iterdir())
    text = drained.read_text()
    assert "### 01-first (01-first)" in text and "> Wrote first.txt as asked." in text
    assert "| 02-second | 02-second.md: dependsOn names 99-missing, which is not a PRD in prds/" in text
    out = overnight("report", "--home", str(home.root), env=environ)
    assert out.returncode == 0, out.stderr
    assert "No run ended in this period." in out.stdout and "02-second" in out.stdout
    written = sorted(set(home.reports.iterdir()) - {drained})
    assert [path.read_text() for path in written] == [out.stdout] and str(written[0]) in out.stderr
    everything = json.loads(overnight("report", "--json", "--since", "2000-01-01T00:00Z", "--home", str(home.root),
                                      env=environ).stdout)
    assert [job["slug"] for job in everything["jobs"]] == ["01-first"]
    assert everything["left"]["invalid"][0]["slug"] == "02-second"
    assert len(list(home.reports.iterdir())) == 3


def test_report_with_a_bad_since_exits_2_and_says_how_to_write_it(setup):
    home, environ, _ = setup
    out = overnight("report", "--since", "last tuesday", "--home", str(home.root), env=environ)
    assert out.returncode == 2
    assert "'last tuesday'" in out.stderr and "2026-01-31T22:00:00Z" in out.stderr
    assert not home.reports.exists()


def test_status_from_disk_reads_a_queue_left_by_an_engine(setup):
    home, environ, _ = setup
    out = overnight("status", "--home", str(home.root), env=environ)
    assert out.returncode == 0
    assert "not running" in out.stdout


def test_scripts_run_passes_its_arguments_to_overnight_without_reinstalling(setup):
    home, environ, _ = setup
    write_prd(home, "01-a.md", "body")
    script = Path(__file__).resolve().parents[2] / "scripts" / "run"
    ran = subprocess.run([str(script), "--home", str(home.root), "run", "--until-idle"], capture_output=True,
                         text=True, env=environ, timeout=120)
    assert ran.returncode == 0, ran.stderr
    status = subprocess.run([str(script), "status", "--json", "--home", str(home.root)], capture_output=True,
                            text=True, env=environ, timeout=120)
    assert status.returncode == 0, status.stderr
    assert [(job["slug"], job["status"]) for job in json.loads(status.stdout)["jobs"]] == [("01-a", "completed")]
    assert "Installing" not in ran.stdout + ran.stderr + status.stdout + status.stderr
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=environ, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("overnight ")
    doctor = subprocess.run([str(script), "--home", str(home.root), "doctor"], capture_output=True, text=True,
                            env={**environ, "PATH": os.defpath}, timeout=120)
    assert doctor.returncode == 1  # no credentials in this home's user: a check to fix
    assert f"config: {home.config} is valid" in doctor.stdout
    [home_line] = [line for line in doctor.stdout.splitlines() if " home: " in line]
    assert str(home.root) in home_line
    assert "agent: 'claude' is not found" not in doctor.stdout  # the home's own agent.command was checked


def test_add_into_a_home_whose_prds_folder_is_a_file_says_how_to_repair_it(setup, tmp_path):
    home, environ, _ = setup
    shutil.rmtree(home.prds)
    home.prds.write_text("not a folder")
    source = tmp_path / "task.md"
    source.write_text("Do it.\n")
    out = overnight("add", str(source), "--home", str(home.root), env=environ)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "overnight run" in out.stderr


def test_status_says_which_earlier_run_a_run_continues_and_which_a_waiting_job_will(setup):
    home, environ, _ = setup
    resumed = job("01-a", Status.RUNNING)
    resumed = replace(resumed, current=replace(resumed.current, resumed_from="20261203-101500-abc123"))
    waiting = job("02-b", reason="usage limit reached; it continues where it stopped",
                  resume=Resume("20261203-090000-def456", "session-1", "usage limit reached"))
    home.queue.write_text(json.dumps(state_to_json(QueueState(jobs=jobs(resumed, waiting, job("03-c"))))))
    out = overnight("status", "--home", str(home.root), env=environ)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[2]: line for line in out.stdout.splitlines() if line.split()[2:3]}
    assert rows["01-a"].endswith("  resumed from run 20261203-101500-abc123")
    assert rows["02-b"].endswith("  usage limit reached; it continues where it stopped · will continue run "
                                 "20261203-090000-def456's session")
    assert rows["03-c"].endswith("03-c  ")
