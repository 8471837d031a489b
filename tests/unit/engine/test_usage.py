import asyncio
import datetime as dt
import email.utils
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from app.core.meter import PollResult
from app.engine.usage import (
    OAUTH_BETA,
    Credentials,
    CredentialsProblem,
    UsageMeter,
    credentials_path,
    installed_cli_version,
    meter_url,
    read_credentials,
    retry_after_seconds,
    user_agent,
)

TOKEN = "sk-ant-oat01-do-not-leak-this-token"
NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
IN_A_DAY_MS = int((NOW + dt.timedelta(days=1)).timestamp() * 1000)
GOOD_BODY = {
    "five_hour": {"utilization": 37.0, "resets_at": "2026-03-01T14:00:00+00:00"},
    "seven_day": {"utilization": 12, "resets_at": "2026-03-05T00:00:00Z"},
    "seven_day_opus": None,
}


@dataclass
class FakeMeter:
    """What the local meter answers next, and the headers of every request it got."""

    status: int = 200
    body: bytes = json.dumps(GOOD_BODY).encode()
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


class _MeterHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        meter: FakeMeter = self.server.meter  # type: ignore[attr-defined]
        meter.requests.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(meter.status)
        for name, value in {"Content-Type": "application/json", **meter.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(meter.body)))
        self.end_headers()
        self.wfile.write(meter.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def meter_server() -> Iterator[FakeMeter]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MeterHandler)
    url = f"http://127.0.0.1:{server.server_port}/api/oauth/usage"
    server.meter = FakeMeter(url=url)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server.meter  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join()


def write_credentials(folder: Path, oauth: object = None, *, raw: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".credentials.json"
    if oauth is None:
        oauth = {"accessToken": TOKEN, "refreshToken": "sk-ant-ort01-single-use", "expiresAt": IN_A_DAY_MS}
    path.write_bytes(raw if raw is not None else json.dumps({"claudeAiOauth": oauth}).encode())
    return path


@pytest.fixture
def environ(tmp_path) -> dict[str, str]:
    """A user whose Claude Code is signed in: ~/.claude/.credentials.json under a fake HOME."""
    home = tmp_path / "home"
    write_credentials(home / ".claude")
    return {"HOME": str(home)}


def plain_http() -> httpx.AsyncHTTPTransport:
    """The local meter speaks plain HTTP: skipping the CA bundle load keeps each test fast."""
    return httpx.AsyncHTTPTransport(verify=False)


def poll(meter_server: FakeMeter, environ: dict[str, str], **options) -> PollResult:
    options.setdefault("transport", plain_http())

    async def once() -> PollResult:
        meter = UsageMeter(meter_server.url, "claude-code/2.1.197", environ, platform="linux", **options)
        try:
            return await meter.poll(NOW)
        finally:
            await meter.aclose()

    return asyncio.run(once())


def answer(meter_server: FakeMeter, status: int, body: object = None, **headers: str) -> FakeMeter:
    meter_server.status = status
    meter_server.body = body if isinstance(body, bytes) else json.dumps(body).encode()
    meter_server.headers = {name.replace("_", "-"): value for name, value in headers.items()}
    return meter_server


# --- credentials -------------------------------------------------------------------------------------


def test_credentials_come_from_claude_config_dir_when_set(tmp_path):
    write_credentials(tmp_path / "home" / ".claude", {"accessToken": "from-home"})
    write_credentials(tmp_path / "config", {"accessToken": "from-config-dir", "expiresAt": 1767225600000})
    environ = {"HOME": str(tmp_path / "home"), "CLAUDE_CONFIG_DIR": str(tmp_path / "config")}

    path = tmp_path / "config" / ".credentials.json"

    credentials = read_credentials(environ, platform="linux")

    assert credentials_path(environ) == path
    assert credentials == Credentials("from-config-dir", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), str(path))


def test_credentials_come_from_the_home_claude_folder_otherwise(tmp_path):
    write_credentials(tmp_path / "home" / ".claude", {"accessToken": "from-home"})

    credentials = read_credentials({"HOME": str(tmp_path / "home")}, platform="linux")

    assert isinstance(credentials, Credentials)
    assert credentials.access_token == "from-home" and credentials.expires_at is None


def test_no_credentials_file_means_no_credentials(tmp_path):
    assert read_credentials({"HOME": str(tmp_path)}, platform="linux") is None


def test_a_file_without_a_claude_ai_sign_in_means_no_credentials(tmp_path):
    write_credentials(tmp_path / ".claude", raw=b'{"mcpOAuth": {}}')

    assert read_credentials({"HOME": str(tmp_path)}, platform="linux") is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"claudeAiOauth": {"accessToken": "abc"', "not valid JSON"),
        (b"\xff\xfe not text", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"claudeAiOauth": "abc"}', "claudeAiOauth is not an object"),
        (b'{"claudeAiOauth": {"accessToken": 42}}', "accessToken is missing or empty"),
        (b'{"claudeAiOauth": {"accessToken": "a", "expiresAt": "soon"}}', "expiresAt is not Unix milliseconds"),
    ],
)
def test_malformed_credentials_are_a_problem_naming_the_file(tmp_path, raw, problem):
    path = write_credentials(tmp_path / ".claude", raw=raw)

    result = read_credentials({"HOME": str(tmp_path)}, platform="linux")

    assert isinstance(result, CredentialsProblem)
    assert result.path == str(path) and problem in result.problem and "`claude`" in result.fix
    assert result.one_line().startswith(f"{path}: ")


def test_an_unreadable_credentials_file_is_a_problem(tmp_path):
    (tmp_path / ".claude" / ".credentials.json").mkdir(parents=True)

    result = read_credentials({"HOME": str(tmp_path)}, platform="linux")

    assert isinstance(result, CredentialsProblem) and "cannot be read" in result.problem


def test_macos_reads_the_keychain_when_the_file_is_missing(tmp_path):
    asked = []

    def security(argv):
        asked.append(list(argv))
        keychain_item = json.dumps({"claudeAiOauth": {"accessToken": "from-keychain", "expiresAt": IN_A_DAY_MS}})
        return subprocess.CompletedProcess(argv, 0, stdout=keychain_item + "\n", stderr="")

    credentials = read_credentials({"HOME": str(tmp_path)}, platform="darwin", run_security=security)

    assert asked == [["security", "find-generic-password", "-s", "Claude Code-credentials", "-w"]]
    assert isinstance(credentials, Credentials) and credentials.access_token == "from-keychain"
    assert "Keychain" in credentials.source


def test_macos_prefers_the_file_to_the_keychain(tmp_path):
    write_credentials(tmp_path / ".claude", {"accessToken": "from-file"})

    def security(argv):
        raise AssertionError("the Keychain must not be asked when the file exists")

    credentials = read_credentials({"HOME": str(tmp_path)}, platform="darwin", run_security=security)

    assert isinstance(credentials, Credentials) and credentials.access_token == "from-file"


def test_macos_without_a_keychain_item_means_no_credentials(tmp_path):
    def security(argv):
        return subprocess.CompletedProcess(argv, 44, stdout="", stderr="security: item could not be found.\n")

    assert read_credentials({"HOME": str(tmp_path)}, platform="darwin", run_security=security) is None


def test_macos_keychain_refusal_is_a_problem(tmp_path):
    def security(argv):
        return subprocess.CompletedProcess(argv, 51, stdout="", stderr="User interaction is not allowed.\n")

    result = read_credentials({"HOME": str(tmp_path)}, platform="darwin", run_security=security)

    assert isinstance(result, CredentialsProblem)
    assert "Keychain" in result.path and "User interaction is not allowed." in result.problem


def test_credentials_repr_never_shows_the_token():
    credentials = Credentials(TOKEN, None, "/home/u/.claude/.credentials.json")

    assert TOKEN not in repr(credentials) and TOKEN not in str(credentials)


# --- the meter ---------------------------------------------------------------------------------------


def test_a_good_answer_is_usage(meter_server, environ):
    result = poll(meter_server, environ, transport=None)

    assert result.kind == "ok" and result.status == 200
    assert result.usage.five_hour.utilization == 37.0
    assert result.usage.five_hour.resets_at == dt.datetime(2026, 3, 1, 14, tzinfo=dt.UTC)
    assert result.usage.seven_day.utilization == 12.0
    assert result.usage.polled_at == NOW and not result.usage.stale


def test_the_request_carries_the_token_beta_and_cli_version(meter_server, environ, tmp_path):
    fake_cli = tmp_path / "claude"
    fake_cli.write_text("#!/bin/sh\necho '2.1.197 (Claude Code)'\n")
    fake_cli.chmod(0o755)
    version = installed_cli_version(str(fake_cli))

    async def once():
        meter = UsageMeter(meter_server.url, user_agent(version), environ, platform="linux")
        try:
            return await meter.poll(NOW)
        finally:
            await meter.aclose()

    assert asyncio.run(once()).kind == "ok"
    [headers] = meter_server.requests
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["anthropic-beta"] == OAUTH_BETA == "oauth-2025-04-20"
    assert headers["user-agent"] == "claude-code/2.1.197"
    assert headers["accept"] == "application/json"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_an_auth_failure(meter_server, environ, status):
    error = {"type": "error", "error": {"type": "authentication_error", "message": "OAuth token has expired"}}

    result = poll(answer(meter_server, status, error), environ)

    assert (result.kind, result.status) == ("auth", status)
    assert result.message == f"HTTP {status}: OAuth token has expired"


def test_429_with_retry_after_seconds(meter_server, environ):
    result = poll(answer(meter_server, 429, {}, Retry_After="120"), environ)

    assert (result.kind, result.status, result.retry_after) == ("rate_limited", 429, 120.0)


def test_429_with_retry_after_as_an_http_date(meter_server, environ):
    later = email.utils.format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True)

    result = poll(answer(meter_server, 429, {}, Retry_After=later), environ)

    assert (result.kind, result.retry_after) == ("rate_limited", 90.0)


def test_429_without_retry_after(meter_server, environ):
    result = poll(answer(meter_server, 429, {}), environ)

    assert (result.kind, result.retry_after) == ("rate_limited", None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("2.5", 2.5), ("-5", 0.0), ("soon", None), ("nan", None), ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0)],
)
def test_retry_after_values(value, seconds):
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize("status", [500, 502, 404, 302])
def test_server_errors_and_unexpected_statuses_are_transient(meter_server, environ, status):
    result = poll(answer(meter_server, status, {"error": {"message": "overloaded"}}), environ)

    assert (result.kind, result.status) == ("transient", status)
    assert str(status) in result.message


def test_an_answer_that_is_not_json_is_transient(meter_server, environ):
    result = poll(answer(meter_server, 200, b"<html>maintenance</html>"), environ)

    assert result.kind == "transient" and "not JSON" in result.message


@pytest.mark.parametrize("body", [{"plan": "max"}, [1, 2], {"five_hour": "37%"}])
def test_an_answer_of_unknown_shape_is_transient(meter_server, environ, body):
    result = poll(answer(meter_server, 200, body), environ)

    assert result.kind == "transient" and "unknown shape" in result.message and result.usage is None


def test_a_server_that_never_answers_times_out(environ):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections into its backlog, never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/oauth/usage"
        started = time.monotonic()
        result = poll(FakeMeter(url=url), environ, timeout=0.3)

    assert result.kind == "transient" and "0.3 s" in result.message
    assert time.monotonic() - started < 3


def test_a_refused_connection_is_transient(environ):
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound_not_listening.getsockname()[1]}/api/oauth/usage"
        result = poll(FakeMeter(url=url), environ)

    assert result.kind == "transient" and "ConnectError" in result.message


def test_no_credentials_sends_nothing(meter_server, tmp_path):
    result = poll(meter_server, {"HOME": str(tmp_path)})

    assert result.kind == "no_credentials"
    assert str(tmp_path / ".claude" / ".credentials.json") in result.message
    assert meter_server.requests == []


def test_broken_credentials_are_reported_with_the_file(meter_server, tmp_path):
    path = write_credentials(tmp_path / ".claude", raw=b"{not json")

    result = poll(meter_server, {"HOME": str(tmp_path)})

    assert result.kind == "no_credentials" and str(path) in result.message and "not valid JSON" in result.message
    assert meter_server.requests == []


def test_an_expired_token_is_not_sent(meter_server, tmp_path):
    an_hour_ago = int((NOW - dt.timedelta(hours=1)).timestamp() * 1000)
    write_credentials(tmp_path / ".claude", {"accessToken": TOKEN, "expiresAt": an_hour_ago})

    result = poll(meter_server, {"HOME": str(tmp_path)})

    assert result.kind == "no_credentials" and "expired" in result.message
    assert meter_server.requests == []


def test_polling_leaves_the_credentials_file_untouched(meter_server, environ):
    path = credentials_path(environ)
    before = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)

    for status in (200, 401, 429, 500):
        poll(answer(meter_server, status, GOOD_BODY), environ)

    assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".credentials.json"]


def test_the_token_never_appears_in_a_result(meter_server, environ):
    echoes_the_token = {"error": {"message": f"invalid bearer token {TOKEN}"}}
    answers = [(200, GOOD_BODY), (401, echoes_the_token), (429, echoes_the_token), (500, echoes_the_token)]

    results = [poll(answer(meter_server, status, body), environ) for status, body in answers]

    assert [result.kind for result in results] == ["ok", "auth", "rate_limited", "transient"]
    for result in results:
        assert TOKEN not in repr(result)
    assert "<token>" in results[1].message


def test_the_environment_overrides_the_configured_url():
    configured = "https://api.anthropic.com/api/oauth/usage"

    assert meter_url(configured, {"OVERNIGHT_USAGE_URL": "http://127.0.0.1:9/usage"}) == "http://127.0.0.1:9/usage"
    assert meter_url(configured, {"OVERNIGHT_USAGE_URL": ""}) == configured
    assert meter_url(configured, {}) == configured


# --- the CLI version ---------------------------------------------------------------------------------


def fake_cli(tmp_path: Path, script: str) -> str:
    path = tmp_path / "claude"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


def test_the_installed_cli_version_is_read_from_its_output(tmp_path):
    assert installed_cli_version(fake_cli(tmp_path, "echo '2.1.197 (Claude Code)'")) == "2.1.197"


@pytest.mark.parametrize("script", ["echo 'oops' >&2; exit 1", "echo 'no version here'", "exec sleep 30"])
def test_a_cli_that_cannot_say_its_version_gives_none(tmp_path, script):
    command = fake_cli(tmp_path, script)

    assert installed_cli_version(command, timeout=0.3) is None


def test_a_missing_cli_gives_none_and_an_honest_user_agent(tmp_path):
    version = installed_cli_version(str(tmp_path / "no-such-claude"))

    assert version is None
    assert user_agent(version) == "claude-code/unknown"
