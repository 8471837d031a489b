"""Overnight's journeys end to end: `overnight run --json-logs` as a user runs it, driving the
real Claude Code CLI against the fake Anthropic API and usage meter. Every journey is
asserted from the queue, the files and the --json-logs events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from app.paths import Home, ensure_home
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli import cli_env, write_credentials
from tests.support import processes_with_marker, wait_until, write_prd

MESSAGES = "/v1/messages"


class Overnight:
    """A home whose agent is the real CLI, and `overnight run` processes on it."""

    def __init__(self, tmp_path: Path, fake: FakeAnthropic, claude: Path, config: dict | None = None) -> None:
        self.fake = fake
        self.user = tmp_path / "user"
        self.user.mkdir()
        self.environ = cli_env(self.user, fake)
        self.home = Home(tmp_path / "home")
        ensure_home(self.home)
        self.project = tmp_path / "project"
        self.project.mkdir()
        settings: dict[str, Any] = {
            "default_cwd": str(self.project),
            "agent": {"command": str(claude)},
            "watchdog": {"kill_after": 3},
            "usage": {"poll_seconds": 60, "resume_margin": 1},
        }
        for key, value in (config or {}).items():
            settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
        self.home.config.write_text(yaml.safe_dump(settings))
        self.events: list[dict[str, Any]] = []
        self.process: subprocess.Popen[str] | None = None

    def prd(self, name: str, body: str, **frontmatter: Any) -> Path:
        return write_prd(self.home, name, body, **frontmatter)

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "app", "run", "--home", str(self.home.root), "--json-logs", *args]
        self.process = subprocess.Popen(
            command, env=self.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read_events, args=(self.process,), daemon=True).start()
        return self.process

    def _read_events(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "stderr", "text": line.rstrip()})

    def run_until_idle(self, timeout: float = 120) -> int:
        process = self.start("--until-idle")
        code = process.wait(timeout)
        wait_until(lambda: any(e["event"] == "engine.stopped" for e in self.events) or code != 0, timeout=5)
        return code

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["event"] == event]

    def wait_event(self, event: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for e in self.named(event):
                if all(e.get(key) == value for key, value in fields.items()):
                    return e
            return None

        return wait_until(found, timeout=timeout)

    def jobs(self) -> dict[str, dict[str, Any]]:
        return {job["slug"]: job for job in json.loads(self.home.queue.read_text())["jobs"]}

    def history(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.home.history.read_text().splitlines()]

    def prompts(self) -> list[str]:
        texts = []
        for request in self.fake.requests_to(MESSAGES):
            first = request.body["messages"][0]["content"]
            texts.append(first if isinstance(first, str) else " ".join(b.get("text", "") for b in first))
        return texts


def running_sets(events: list[dict[str, Any]]) -> list[list[str]]:
    """The set of running jobs after every start and finish, from the event stream."""
    running: list[str] = []
    sets = []
    for event in events:
        if event["event"] == "job.started":
            running.append(event["slug"])
        elif event["event"] == "job.finished":
            running.remove(event["slug"])
        else:
            continue
        sets.append(sorted(running))
    return sets


def test_three_groups_under_cap_2_run_in_order_and_the_cap_holds_at_every_instant(overnight):
    o = overnight(concurrency_cap=2)
    for group, count in ((1, 3), (2, 2), (3, 1)):
        for index in range(count):
            o.prd(f"{group:02d}-task{index}.md", f'@agent sleep 0.5\n@agent text "g{group} t{index}"\n')
    assert o.run_until_idle() == 0
    for running in running_sets(o.events):
        assert len(running) <= 2, running
        assert len({slug[:2] for slug in running}) <= 1, running
    groups = [e["slug"][:2] for e in o.named("job.started")]
    assert groups == sorted(groups) == ["01"] * 3 + ["02"] * 2 + ["03"]
    assert {e["outcome"] for e in o.named("job.finished")} == {"completed"}
    assert {job["status"] for job in o.jobs().values()} == {"completed"}
    assert o.named("engine.started")[0]["pid"] and o.named("usage.polled")[0]["fiveHour"] == 10.0


def test_an_agent_writes_a_file_in_the_cwd_of_its_prd(overnight, tmp_path):
    o = overnight()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    o.prd("01-write.md", '@agent write {"file_path": "notes/hello.txt", "content": "hi from the agent"}\n'
          '@agent text "wrote it"\n', cwd=str(elsewhere))
    assert o.run_until_idle() == 0
    assert (elsewhere / "notes" / "hello.txt").read_text() == "hi from the agent"
    job = o.jobs()["01-write"]
    assert job["status"] == "completed" and job["last"]["numTurns"] == 2
    transcript = o.home.run_dir(job["last"]["runId"]) / "01-write.jsonl"
    assert '"name":"Write"' in transcript.read_text()


def test_a_prd_over_200_kb_reaches_the_agent_whole_on_stdin(overnight):
    o = overnight()
    filler = "".join(f"Requirement {i}: keep the behaviour described in section {i}.\n" for i in range(4000))
    assert len(filler.encode()) > 200 * 1024
    o.prd("01-big.md", filler + "THE-LAST-LINE\n@agent text \"read it all\"\n")
    assert o.run_until_idle() == 0
    assert o.jobs()["01-big"]["status"] == "completed"
    [prompt] = o.prompts()
    assert "Requirement 0:" in prompt and "THE-LAST-LINE" in prompt
    meta = json.loads((o.home.run_dir(o.jobs()["01-big"]["last"]["runId"]) / "01-big.meta.json").read_text())
    assert all(len(arg) < 200 for arg in meta["argv"])


def test_a_failing_job_gets_an_investigation_whose_fix_plan_the_real_cli_writes_and_which_then_runs(overnight):
    o = overnight()
    o.prd("03-payments.md", '@agent error {"status": 500, "retry": false}\n', title="Payments page")
    assert o.run_until_idle(timeout=180) == 0
    failed = o.wait_event("job.finished", slug="03-payments")
    assert failed["outcome"] == "failed" and "500" in failed["reason"]
    assert o.wait_event("investigation.started", slug="03-payments")
    assert o.wait_event("investigation.finished", slug="03-payments")["fixPlan"] == "03-fix-payments"
    assert o.wait_event("job.finished", slug="03-fix-payments")["outcome"] == "completed"
    jobs = o.jobs()
    assert jobs["03-payments"]["status"] == "failed"
    assert jobs["03-payments"]["fixPlanSlug"] == "03-fix-payments"
    assert jobs["03-fix-payments"]["investigationOf"] == "03-payments"
    assert jobs["03-fix-payments"]["title"] == "Fix: Payments page"
    fix = (o.home.prds / "03-fix-payments.md").read_text()
    assert "parallelGroup: 3" in fix and f"cwd: {o.project}" in fix
    investigation = [p for p in o.prompts() if "03-fix-payments.md" in p]
    assert investigation and "Payments page" in investigation[0]


def test_a_prd_whose_verify_fails_is_failed_and_its_investigation_sees_the_verify_output(overnight):
    o = overnight()
    check = 'grep -q goodbye greeting.txt || { echo "greeting.txt says: $(cat greeting.txt)"; exit 4; }'
    o.prd("04-greeting.md", '@agent write {"file_path": "greeting.txt", "content": "hello"}\n@agent text "done"\n',
          title="Greeting", verify=["test -f greeting.txt", check])
    assert o.run_until_idle(timeout=180) == 0
    assert o.wait_event("job.finished", slug="04-greeting")["outcome"] == "completed"  # the agent's own word
    verified = o.wait_event("job.verified", slug="04-greeting")
    assert verified["ok"] is False and verified["failed"] == check
    job = o.jobs()["04-greeting"]
    assert job["status"] == "failed" and job["reason"] == f"verify failed: `{check}` exited 4"
    assert [c["exitCode"] for c in job["verify"]["commands"]] == [0, 4]
    assert "greeting.txt says: hello" in Path(job["verify"]["logPath"]).read_text()
    assert o.wait_event("investigation.finished", slug="04-greeting")["fixPlan"] == "04-fix-greeting"
    investigation = [p for p in o.prompts() if "04-fix-greeting.md" in p]
    assert investigation and "greeting.txt says: hello" in investigation[0]


def test_with_auto_run_off_the_fix_plan_waits_for_approval_then_runs(overnight):
    o = overnight(investigation={"auto_run": False})
    o.prd("03-payments.md", '@agent error {"status": 500, "retry": false}\n', title="Payments page")
    assert o.run_until_idle(timeout=180) == 0  # a plan awaiting approval is nothing left to run
    held = o.home.fix_plans / "03-fix-payments.md"
    assert o.wait_event("fixplan.held", slug="03-fix-payments")["path"] == str(held)
    assert held.exists() and not (o.home.prds / "03-fix-payments.md").exists()
    assert o.jobs()["03-payments"]["investigation"]["status"] == "held"
    assert "03-fix-payments" not in o.jobs()

    def overnight_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args, "--home", str(o.home.root)], env=o.environ,
                              capture_output=True, text=True, timeout=60)

    o.start()
    wait_until(lambda: json.loads(overnight_cli("status", "--json").stdout)["engine"], timeout=30)
    approve = overnight_cli("approve", "03-fix-payments")
    assert approve.returncode == 0, approve.stderr
    assert o.wait_event("job.finished", slug="03-fix-payments", timeout=120)["outcome"] == "completed"
    jobs = o.jobs()
    assert jobs["03-payments"]["fixPlanSlug"] == "03-fix-payments"
    assert jobs["03-fix-payments"]["investigationOf"] == "03-payments"
    assert jobs["03-fix-payments"]["title"] == "Fix: Payments page"


def test_a_usage_limit_mid_queue_pauses_until_the_reported_reset_and_resumes_after_it(overnight):
    o = overnight(concurrency_cap=1)
    o.prd("01-before.md", '@agent text "before"\n')
    o.prd("02-limited.md", '@agent ratelimit {"reset_in": 6}\n@agent text "after the reset"\n')
    o.prd("03-after.md", '@agent text "after"\n')
    assert o.run_until_idle(timeout=120) == 0
    limited = o.named("job.finished")[1]
    assert (limited["slug"], limited["outcome"]) == ("02-limited", "rate_limited")
    paused = o.wait_event("queue.paused", reason="rate_limit")
    transcript = o.home.run_dir(limited["runId"]) / "02-limited.jsonl"
    [rejected] = [line["rate_limit_info"] for line in map(json.loads, transcript.read_text().splitlines())
                  if line["type"] == "rate_limit_event" and line["rate_limit_info"]["status"] == "rejected"]
    resume_at = datetime.fromisoformat(paused["resumeAt"].replace("Z", "+00:00")).timestamp()
    assert resume_at == rejected["resetsAt"] + 1  # the reset the CLI reported, plus resume_margin
    resumed = o.wait_event("queue.resumed")
    order = [(e["event"], e.get("slug")) for e in o.events if e["event"] in ("job.started", "queue.resumed")]
    assert order.index(("queue.resumed", None)) < order.index(("job.started", "03-after"))
    assert order.count(("job.started", "02-limited")) == 2
    assert resumed["ts"] >= paused["ts"]
    assert {job["status"] for job in o.jobs().values()} == {"completed"}


def test_a_meter_refusing_the_credentials_pauses_auth_until_they_are_fixed(overnight):
    o = overnight()
    o.fake.set_usage_failure(status=401)
    o.prd("01-waits.md", '@agent text "ran after sign-in"\n')
    o.start()
    assert o.wait_event("usage.failed", kind="auth", status=401)
    assert o.wait_event("queue.paused", reason="auth")
    time.sleep(1)
    assert o.named("job.started") == []
    o.fake.clear_usage_failure()
    write_credentials(o.user / ".claude")  # signing in again rewrites the file
    assert o.wait_event("queue.resumed", timeout=30)
    assert o.wait_event("job.finished", slug="01-waits")["outcome"] == "completed"


def test_an_api_key_in_the_environment_stops_the_run_at_once_until_env_remove_keeps_it_from_the_agent(overnight):
    o = overnight()
    o.environ["ANTHROPIC_API_KEY"] = "sk-ant-api03-overnight-tests"
    # The fake holds its first answer as a real API takes a while to answer: the stop comes first.
    o.prd("01-billed.md", '@agent sleep 5\n@agent text "on the subscription"\n')
    o.start()
    paused = o.wait_event("queue.paused", reason="spend")
    stopped = o.wait_event("run.spend_stopped", slug="01-billed")
    assert stopped["apiKeySource"] == "ANTHROPIC_API_KEY" and stopped["kind"] == "job"
    assert "ANTHROPIC_API_KEY" in paused["message"] and "agent.env_remove" in paused["message"]
    assert o.wait_event("job.finished", slug="01-billed")["outcome"] == "cancelled"
    billed = o.fake.requests_to(MESSAGES)
    assert len(billed) <= 1 and all("x-api-key" in r.headers for r in billed)
    wait_until(lambda: o.jobs()["01-billed"]["status"] == "pending")  # queue.json is saved just after the event

    settings = yaml.safe_load(o.home.config.read_text())
    settings["agent"]["env_remove"] = ["ANTHROPIC_API_KEY"]
    o.home.config.write_text(yaml.safe_dump(settings))
    assert o.wait_event("queue.resumed", was="spend")["ts"] > paused["ts"]
    assert o.wait_event("job.finished", slug="01-billed", outcome="completed", timeout=90)
    later = o.fake.requests_to(MESSAGES)[len(billed):]
    assert later and all("x-api-key" not in r.headers and r.headers["authorization"].startswith("Bearer ")
                         for r in later)
    assert o.history()[-1]["apiKeySource"] == "none"


def test_a_background_process_the_agent_leaves_behind_does_not_survive_the_run(overnight):
    # A plain `cmd &` survives 2.1.197 but 2.1.332 ends it itself; a process in a session of its
    # own survives both, and only Overnight's marker finds it.
    o = overnight()
    o.prd("01-server.md", '@agent bash {"command": "setsid sleep 300 > /dev/null 2>&1 &"}\n'
                          '@agent text "started it"\n')
    assert o.run_until_idle() == 0
    job = o.jobs()["01-server"]
    assert job["status"] == "completed"
    marker = f"{job['last']['runId']}/01-server"
    assert processes_with_marker(marker) == []
    assert o.named("run.leftovers_killed")[0]["slug"] == "01-server"


def test_an_agent_that_hangs_after_its_result_is_stopped_and_counts_as_completed(overnight):
    o = overnight(watchdog={"post_result_grace": 2, "kill_after": 2})
    o.prd("01-lingers.md", '@agent linger {"seconds": 120}\n')
    started = time.monotonic()
    assert o.run_until_idle(timeout=90) == 0
    assert time.monotonic() - started < 60
    job = o.jobs()["01-lingers"]
    assert job["status"] == "completed"
    assert "did not exit after its result" in job["reason"]
    assert processes_with_marker(f"{job['last']['runId']}/01-lingers") == []


def test_an_engine_killed_mid_run_and_restarted_adopts_the_run_and_finishes_it_once(overnight):
    o = overnight()
    o.prd("01-long.md", '@agent sleep 5\n@agent text "finished once"\n')
    first = o.start()
    started = o.wait_event("job.started", slug="01-long")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert psutil.pid_exists(started["pid"])
    assert o.run_until_idle(timeout=60) == 0
    adopted = o.wait_event("job.adopted", slug="01-long")
    assert adopted["pid"] == started["pid"] and adopted["runId"] == started["runId"]
    assert len(o.named("job.started")) == 1
    assert o.named("job.finished")[0]["outcome"] == "completed"
    runs = [h for h in o.history() if h["event"] == "run.finished"]
    assert [(h["slug"], h["outcome"]) for h in runs] == [("01-long", "completed")]
    assert len(o.prompts()) == 1


def test_an_invalid_prd_is_reported_never_run_and_left_untouched(overnight):
    o = overnight()
    path = o.prd("01-broken.md", "---\ntitle: Fix: login\n---\n@agent text \"never\"\n")
    o.prd("02-fine.md", '@agent text "fine"\n')
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert o.run_until_idle() == 0
    invalid = o.wait_event("prd.invalid", slug="01-broken")
    assert "01-broken.md:2" in invalid["reason"] and "quotes" in invalid["reason"]
    assert [e["slug"] for e in o.named("job.started")] == ["02-fine"]
    assert o.jobs()["01-broken"]["status"] == "invalid"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert all("never" not in prompt for prompt in o.prompts())
    assert set(os.listdir(o.home.prds)) == {"01-broken.md", "02-fine.md"}
