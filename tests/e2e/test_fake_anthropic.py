"""The real Claude Code CLI against the fake Anthropic API: what each scripted behaviour makes the CLI
do (stream-JSON lines, exit code, files), so Overnight's end-to-end tests can rely on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import frontmatter
import httpx
import pytest

from app.core.limits import find_limit_message, limit_kind_from_text
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli import CliRun, cli_argv, cli_env, run_claude

MESSAGES = "/v1/messages"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def env(tmp_path: Path, fake: FakeAnthropic, claude: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return cli_env(home, fake)


@pytest.fixture
def run(workdir: Path, env: dict[str, str]) -> Callable[..., CliRun]:
    def run(prompt: str, **extra_env: str) -> CliRun:
        return run_claude(prompt, cwd=workdir, env={**env, **extra_env})

    return run


class LiveRun:
    """The CLI running in its own session, its stdout parsed line by line as it is written."""

    def __init__(self, prompt: str, cwd: Path, env: dict[str, str], stderr: Path) -> None:
        with stderr.open("w") as err:
            self.process = subprocess.Popen(
                cli_argv(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=cwd,
                env=env,
                text=True,
                start_new_session=True,
            )
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.process.stdin is not None
        self.process.stdin.write(prompt)
        self.process.stdin.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append((time.monotonic(), json.loads(line)))

    def of_type(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, event) for at, event in list(self.events) if event["type"] == kind]

    def wait_for(self, kind: str, timeout: float) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not (found := self.of_type(kind)):
            assert time.monotonic() < deadline, f"no {kind} line within {timeout} s: {self.events}"
            time.sleep(0.05)
        return found[0]

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def live(workdir: Path, env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], LiveRun]]:
    runs: list[LiveRun] = []

    def start(prompt: str) -> LiveRun:
        runs.append(LiveRun(prompt, workdir, env, tmp_path / f"stderr-{len(runs)}.log"))
        return runs[-1]

    yield start
    for started in runs:
        started.kill()


def rate_limit_infos(run: CliRun) -> list[dict[str, Any]]:
    return [e["rate_limit_info"] for e in run.of_type("rate_limit_event")]


def texts(run: CliRun) -> list[str]:
    return [b["text"] for e in run.of_type("assistant") for b in e["message"]["content"] if b["type"] == "text"]


def investigation_prompt(home: Path, project: Path, slug: str, title: str, group: int, extra: str = "") -> str:
    """Shaped like Overnight's investigation prompt: it quotes the failed PRD, @agent lines and all."""
    name = slug.split("-", 1)[1]
    return f"""The Overnight job {slug} failed. Find the root cause and write a fix plan.

slug: {slug}
title: {title}
cwd: {project}
exit reason: API Error: 500

The PRD body:
    @agent error 500
    Implement the feature.

The end of the transcript:
    parallelGroup: 99

Write exactly one file, at this absolute path:
{home}/prds/{group:02d}-fix-{name}.md

with this frontmatter:
---
title: "Fix: {title}"
cwd: {project}
parallelGroup: {group}
estimateMinutes: 5
---
and a self-contained body: root cause, steps, verification, acceptance.
{extra}"""


# --- turns -----------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_text_completes_the_run(run: Callable[..., CliRun], fake: FakeAnthropic, workdir: Path) -> None:
    result = run('Say hello.\n@agent text "hello from the fake"\n')

    assert result.returncode == 0
    init = result.events[0]
    assert (init["type"], init["subtype"], init["cwd"]) == ("system", "init", str(workdir))
    assert init["apiKeySource"] == "none"  # the subscription login, not an API key
    assert texts(result) == ["hello from the fake"]
    assert rate_limit_infos(result)[0]["status"] == "allowed"
    final = result.result
    assert (final["subtype"], final["is_error"], final["num_turns"]) == ("success", False, 1)
    assert final["result"] == "hello from the fake"
    assert final["total_cost_usd"] > 0
    [request] = fake.requests_to(MESSAGES)
    assert request.path == "/v1/messages?beta=true"
    assert request.body["stream"] is True
    assert request.headers["authorization"] == "Bearer sk-ant-oat01-x"
    assert "oauth-2025-04-20" in request.headers["anthropic-beta"]
    assert "x-api-key" not in request.headers


@pytest.mark.e2e
def test_a_prompt_without_script_is_answered_done(run: Callable[..., CliRun]) -> None:
    result = run("Just a task description, no directives.")

    assert result.returncode == 0
    assert result.result["result"] == "done"


@pytest.mark.e2e
def test_write_creates_the_file_relative_to_the_cwd(run: Callable[..., CliRun], workdir: Path) -> None:
    result = run('@agent write {"file_path": "notes/a.txt", "content": "hello"}\n@agent text "written"\n')

    assert result.returncode == 0
    assert (workdir / "notes" / "a.txt").read_text() == "hello"
    [tool_call] = [b for e in result.of_type("assistant") for b in e["message"]["content"] if b["type"] == "tool_use"]
    assert tool_call["name"] == "Write"
    assert tool_call["input"]["file_path"] == str(workdir / "notes" / "a.txt")
    [tool_result] = [b for e in result.of_type("user") for b in e["message"]["content"]]
    assert tool_result["tool_use_id"] == tool_call["id"]
    assert not tool_result.get("is_error")  # its wording differs between versions; Overnight only shows it
    assert (result.result["result"], result.result["num_turns"]) == ("written", 2)


@pytest.mark.e2e
def test_bash_runs_the_command_in_the_cwd(run: Callable[..., CliRun], workdir: Path) -> None:
    result = run('@agent bash {"command": "pwd > where.txt && echo ran"}\n@agent text "ran it"\n')

    assert result.returncode == 0
    assert (workdir / "where.txt").read_text().strip() == str(workdir)
    [tool_result] = [b for e in result.of_type("user") for b in e["message"]["content"]]
    assert tool_result["content"] == "ran"
    assert result.result["result"] == "ran it"


@pytest.mark.e2e
def test_sleep_delays_the_next_step(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    result = run('@agent sleep 1.5\n@agent text "late"\n')

    assert result.returncode == 0
    assert result.result["result"] == "late"
    assert result.result["duration_api_ms"] >= 1500
    assert len(fake.requests_to(MESSAGES)) == 1


@pytest.mark.e2e
def test_side_requests_are_answered_without_playing_the_script(
    run: Callable[..., CliRun], fake: FakeAnthropic, workdir: Path
) -> None:
    # Without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, 2.1.197 also asks for a session title,
    # quoting the prompt in <session>; 2.1.332 does not. Either way the script plays once.
    prompt = '@agent write {"file_path": "once.txt", "content": "1"}\n'
    result = run(prompt, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="")

    assert result.returncode == 0
    assert (workdir / "once.txt").read_text() == "1"
    turns = [r for r in fake.requests_to(MESSAGES) if r.body.get("tools")]
    assert len(turns) == 2 and result.result["num_turns"] == 2
    side = [r for r in fake.requests_to(MESSAGES) if not r.body.get("tools")]
    assert all("<session>" in json.dumps(r.body["messages"]) or r.body.get("max_tokens") == 1 for r in side)


# --- usage limits ----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_ratelimit_rejects_every_prompt_until_the_reset_then_the_rerun_proceeds(
    run: Callable[..., CliRun], fake: FakeAnthropic
) -> None:
    prompt = '@agent ratelimit {"reset_in": 3, "claim": "five_hour"}\n@agent text "after the reset"\n'

    limited = run(prompt)

    assert limited.returncode == 1
    [info] = rate_limit_infos(limited)
    assert info["status"] == "rejected"
    assert info["resetsAt"] == fake.limited_until
    assert info["rateLimitType"] == "five_hour"
    final = limited.result
    assert (final["subtype"], final["is_error"], final["api_error_status"]) == ("success", True, 429)
    # The wording differs ("session limit" in 2.1.197, "5-hour limit" in 2.1.332); Overnight reads both.
    assert limit_kind_from_text(find_limit_message(final["result"]) or "") == "five_hour"
    assert len(fake.requests_to(MESSAGES)) == 1  # a usage limit is not retried

    other = run('@agent text "another job"\n')
    assert other.returncode == 1
    assert rate_limit_infos(other)[0]["resetsAt"] == info["resetsAt"]

    fake.wait_for(lambda: fake.limited_until is None, timeout=10)
    rerun = run(prompt)
    assert rerun.returncode == 0
    assert rerun.result["result"] == "after the reset"


@pytest.mark.e2e
def test_limit_until_reports_a_weekly_limit(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    reset = int(time.time()) + 2 * 86400
    fake.limit_until(reset, claim="seven_day")

    result = run('@agent text "never played"\n')

    assert result.returncode == 1
    assert rate_limit_infos(result) == [
        {"status": "rejected", "resetsAt": reset, "rateLimitType": "seven_day", "isUsingOverage": False}
    ]
    assert limit_kind_from_text(find_limit_message(result.result["result"]) or "") == "seven_day"
    assert "never played" not in texts(result)


@pytest.mark.e2e
def test_high_usage_gives_an_allowed_warning(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    resets_at = datetime.now(UTC) + timedelta(hours=2)
    fake.set_usage(five_hour=95.0, five_hour_resets_at=resets_at)

    result = run('@agent text "still allowed"\n')

    assert result.returncode == 0
    [info] = rate_limit_infos(result)
    assert info["status"] == "allowed_warning"
    assert (info["rateLimitType"], info["utilization"]) == ("five_hour", 0.95)
    assert info["resetsAt"] == int(resets_at.timestamp())


@pytest.mark.e2e
def test_a_429_without_unified_headers_is_rejected_without_a_reset_time(
    run: Callable[..., CliRun], fake: FakeAnthropic
) -> None:
    # 2.1.197 reports it at once; 2.1.332 retries it like a server error (for over a minute by
    # default): one retry keeps this short and shows both.
    result = run("@agent error 429\n", CLAUDE_CODE_MAX_RETRIES="1")

    assert result.returncode == 1
    assert rate_limit_infos(result) == [{"status": "rejected", "isUsingOverage": False}]
    assert result.result["api_error_status"] == 429
    assert len(fake.requests_to(MESSAGES)) in (1, 2)


# --- server errors ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_500_is_retried_then_reported(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    # By default the CLI retries a 500 ten times, backing off from 0.5 s to about 37 s: measured 186 s
    # from start to the result line. CLAUDE_CODE_MAX_RETRIES keeps this test short.
    result = run("@agent error 500\n", CLAUDE_CODE_MAX_RETRIES="2")

    assert result.returncode == 1
    retries = [e for e in result.of_type("system") if e["subtype"] == "api_retry"]
    assert [(e["attempt"], e["max_retries"], e["error_status"]) for e in retries] == [(1, 2, 500), (2, 2, 500)]
    assert len(fake.requests_to(MESSAGES)) == 3
    final = result.result
    assert (final["subtype"], final["is_error"], final["api_error_status"]) == ("success", True, 500)
    assert final["result"].startswith("API Error: 500")


@pytest.mark.e2e
def test_a_500_that_says_do_not_retry_fails_at_once(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    result = run('@agent error {"status": 500, "retry": false}\n')

    assert result.returncode == 1
    assert not [e for e in result.of_type("system") if e["subtype"] == "api_retry"]
    assert len(fake.requests_to(MESSAGES)) == 1
    assert (result.result["is_error"], result.result["api_error_status"]) == (True, 500)


@pytest.mark.e2e
def test_a_bad_directive_ends_the_run_with_an_api_error(run: Callable[..., CliRun], fake: FakeAnthropic) -> None:
    result = run("@agent dance\n")

    # 2.1.197 sends the request once; 2.1.332 tries it again a few times, at once, before it gives up.
    assert result.returncode == 1
    assert (result.result["is_error"], result.result["api_error_status"]) == (True, 400)
    assert "unknown @agent verb 'dance'" in result.result["result"]


# --- silence and lingering -------------------------------------------------------------------------


@pytest.mark.e2e
def test_hang_keeps_the_agent_silent_and_stop_does_not_wait_for_it(
    live: Callable[[str], LiveRun], fake: FakeAnthropic
) -> None:
    agent = live("@agent hang\n")
    fake.wait_for(lambda: fake.requests_to(MESSAGES), timeout=20)
    time.sleep(1.5)  # the silence under test

    assert agent.process.poll() is None
    assert [event["type"] for _, event in agent.events] == ["system"]  # only system/init
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2


@pytest.mark.e2e
def test_a_background_shell_outlives_the_result_until_the_cli_ends_it_or_it_ends(
    live: Callable[[str], LiveRun],
) -> None:
    """2.1.197 kills a background shell 5 s after its result and exits; 2.1.332 waits for the shell
    to finish, wakes the agent with its completion (one more result), then exits. Either way the
    process lives on after a result line: what Overnight's post-result watchdog is for."""
    agent = live('@agent bash {"command": "sleep 8", "run_in_background": true}\n@agent text "started"\n')

    result_at, result = agent.wait_for("result", timeout=20)
    assert agent.wait(timeout=30) == 0
    after_result = time.monotonic() - result_at

    assert result["is_error"] is False
    updates = [e for _, e in agent.of_type("system") if e["subtype"] == "task_updated"]
    if updates[-1]["patch"]["status"] == "killed":
        assert 4.5 <= after_result < 8
    else:
        assert updates[-1]["patch"]["status"] == "completed"
        assert after_result >= 6 and len(agent.of_type("result")) == 2


@pytest.mark.e2e
def test_linger_keeps_the_process_alive_after_its_result(live: Callable[[str], LiveRun]) -> None:
    agent = live('@agent linger {"seconds": 6}\n@agent text "finally done"\n')

    result_at, first = agent.wait_for("result", timeout=20)
    assert (first["is_error"], first["result"]) == (False, "done")
    time.sleep(max(0.0, result_at + 6 - time.monotonic()))  # longer than the CLI's 5 s post-result grace
    assert agent.process.poll() is None

    assert agent.wait(timeout=30) == 0
    results = [e for _, e in agent.of_type("result")]
    assert [(r["is_error"], r["result"]) for r in results] == [
        (False, "done"),
        (False, "still working in the background"),
        (False, "finally done"),
    ]


# --- investigations --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_investigation_writes_a_valid_fix_plan_that_then_completes(
    run: Callable[..., CliRun], fake: FakeAnthropic, tmp_path: Path, workdir: Path
) -> None:
    home = tmp_path / "overnight"
    prompt = investigation_prompt(home, workdir, "07-add-login", "Add login", 7)

    result = run(prompt)

    assert result.returncode == 0
    assert result.result["result"] == "fix plan written"
    assert not [e for e in result.of_type("system") if e["subtype"] == "api_retry"]  # @agent error 500 ignored
    plan = frontmatter.load(home / "prds" / "07-fix-add-login.md")
    assert plan.metadata == {"title": "Fix: Add login", "cwd": str(workdir), "parallelGroup": 7, "estimateMinutes": 5}
    assert "Root cause" in plan.content

    fix_run = run(plan.content)
    assert fix_run.returncode == 0
    assert fix_run.result["result"] == "fix applied"


@pytest.mark.e2e
def test_investigation_that_finds_nothing_writes_no_file(
    run: Callable[..., CliRun], tmp_path: Path, workdir: Path
) -> None:
    home = tmp_path / "overnight"
    result = run(investigation_prompt(home, workdir, "03-flaky", "Flaky", 3, extra="@investigator nothing\n"))

    assert result.returncode == 0
    assert result.result["result"] == "could not find the cause"
    assert not (home / "prds").exists()


@pytest.mark.e2e
def test_investigation_body_override(run: Callable[..., CliRun], tmp_path: Path, workdir: Path) -> None:
    home = tmp_path / "overnight"
    override = json.dumps({"body": 'Retry it.\n\n@agent error {"status": 500, "retry": false}\n'})
    extra = f"@investigator write-fix-plan {override}\n"
    result = run(investigation_prompt(home, workdir, "12-api", "Call the API", 12, extra=extra))

    assert result.returncode == 0
    plan = frontmatter.load(home / "prds" / "12-fix-api.md")
    assert plan.metadata["title"] == "Fix: Call the API"
    assert plan.metadata["parallelGroup"] == 12
    assert plan.content == 'Retry it.\n\n@agent error {"status": 500, "retry": false}'


# --- the usage meter -------------------------------------------------------------------------------


OAUTH_HEADERS = {
    "Authorization": "Bearer sk-ant-oat01-x",
    "anthropic-beta": "oauth-2025-04-20",
    "User-Agent": "claude-code/2.1.197",
}


def test_usage_meter_default_document(fake: FakeAnthropic) -> None:
    response = httpx.get(fake.usage_url, headers=OAUTH_HEADERS)

    assert response.status_code == 200
    usage = response.json()
    assert usage["five_hour"]["utilization"] == 10.0
    assert usage["seven_day"]["utilization"] == 20.0
    five_hour_reset = datetime.fromisoformat(usage["five_hour"]["resets_at"])
    assert timedelta(hours=2, minutes=59) < five_hour_reset - datetime.now(UTC) <= timedelta(hours=3)
    assert usage["seven_day_opus"] is None and usage["extra_usage"] is None
    [request] = fake.requests_to("/api/oauth/usage")
    assert request.headers["user-agent"] == "claude-code/2.1.197"
    assert "sk-ant" not in repr(request)


def test_usage_meter_needs_the_oauth_token_and_beta(fake: FakeAnthropic) -> None:
    assert httpx.get(fake.usage_url).status_code == 401
    response = httpx.get(fake.usage_url, headers={"Authorization": "Bearer sk-ant-oat01-x"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_usage_meter_follows_set_usage_and_limits(fake: FakeAnthropic) -> None:
    fake.set_usage(five_hour=42.5, seven_day=None, seven_day_opus={"utilization": 3.0, "resets_at": None})
    usage = httpx.get(fake.usage_url, headers=OAUTH_HEADERS).json()
    assert (usage["five_hour"]["utilization"], usage["seven_day"]) == (42.5, None)
    assert usage["seven_day_opus"] == {"utilization": 3.0, "resets_at": None}

    reset = int(time.time()) + 600
    fake.limit_until(reset)
    limited = httpx.get(fake.usage_url, headers=OAUTH_HEADERS).json()["five_hour"]
    assert limited["utilization"] == 100.0
    assert datetime.fromisoformat(limited["resets_at"]).timestamp() == reset


@pytest.mark.parametrize(
    ("status", "retry_after", "body"),
    [(401, None, None), (429, 120, None), (500, None, None), (200, None, b"not json")],
)
def test_usage_meter_failures(fake: FakeAnthropic, status: int, retry_after: int | None, body: bytes | None) -> None:
    fake.set_usage_failure(status, retry_after=retry_after, body=body)
    response = httpx.get(fake.usage_url, headers=OAUTH_HEADERS)

    assert response.status_code == status
    assert response.headers.get("retry-after") == (str(retry_after) if retry_after else None)
    if body is not None:
        assert response.content == body
    else:
        assert response.json()["type"] == "error"
    fake.clear_usage_failure()
    assert httpx.get(fake.usage_url, headers=OAUTH_HEADERS).status_code == 200


def test_usage_meter_delay_outlasts_a_client_timeout(fake: FakeAnthropic) -> None:
    fake.set_usage_delay(2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fake.usage_url, headers=OAUTH_HEADERS, timeout=0.3)


def test_unknown_routes_get_an_anthropic_404(fake: FakeAnthropic) -> None:
    response = httpx.post(fake.url + "/v1/complete", json={"prompt": "x"})

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert fake.requests_to("/v1/complete")[0].body == {"prompt": "x"}
