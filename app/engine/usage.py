"""The usage meter client (docs/BEHAVIOUR.md section 6): read-only credentials, one GET per poll,
failures classified."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from app.core.agent import MARKER, VersionRange
from app.core.meter import PollResult, usage_from_response
from app.engine import procs
from app.paths import resource

USAGE_URL_ENV = "OVERNIGHT_USAGE_URL"
OAUTH_BETA = "oauth-2025-04-20"
TIMEOUT_SECONDS = 10.0
KEYCHAIN_SERVICE = "Claude Code-credentials"
KEYCHAIN_SOURCE = f"the macOS Keychain item '{KEYCHAIN_SERVICE}'"
SECURITY_ARGV = ("security", "find-generic-password", "-s", KEYCHAIN_SERVICE, "-w")
SECURITY_ITEM_NOT_FOUND = 44
UNKNOWN_VERSION = "unknown"
SIGN_IN_AGAIN = "run `claude` and sign in again"

_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")

SecurityRunner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Credentials:
    """The OAuth access token Claude Code stored for the user's subscription."""

    access_token: str = field(repr=False)
    expires_at: dt.datetime | None
    source: str  # the file, or the Keychain item, it was read from


@dataclass(frozen=True)
class CredentialsProblem:
    """Credentials that exist but cannot be used: where, what is wrong, and how to fix it."""

    path: str
    problem: str
    fix: str

    def one_line(self) -> str:
        return f"{self.path}: {self.problem} — {self.fix}"


def meter_url(configured: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(USAGE_URL_ENV) or configured


def user_agent(cli_version: str | None) -> str:
    return f"claude-code/{cli_version or UNKNOWN_VERSION}"


def credentials_path(environ: Mapping[str, str] = os.environ) -> Path:
    config_dir = environ.get("CLAUDE_CONFIG_DIR")
    if config_dir:
        return Path(config_dir) / ".credentials.json"
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude" / ".credentials.json"


def _run_security(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)


def read_credentials(
    environ: Mapping[str, str] = os.environ,
    *,
    platform: str = sys.platform,
    run_security: SecurityRunner = _run_security,
) -> Credentials | CredentialsProblem | None:
    """Read-only: a refresh would spend the single-use refresh token and log the user's own Claude Code out."""
    path = credentials_path(environ)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _read_keychain(run_security) if platform == "darwin" else None
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
        return CredentialsProblem(str(path), problem, f"make it a file your user can read, or {SIGN_IN_AGAIN}")
    return _parse_credentials(raw, str(path))


def _read_keychain(run_security: SecurityRunner) -> Credentials | CredentialsProblem | None:
    try:
        completed = run_security(SECURITY_ARGV)
    except (OSError, subprocess.SubprocessError) as exc:
        return CredentialsProblem(KEYCHAIN_SOURCE, f"`security` failed ({exc})", SIGN_IN_AGAIN)
    if completed.returncode == SECURITY_ITEM_NOT_FOUND:
        return None
    if completed.returncode != 0:
        lines = (completed.stderr or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {completed.returncode}"
        return CredentialsProblem(
            KEYCHAIN_SOURCE, f"cannot be read ({reason})", f"allow access when macOS asks, or {SIGN_IN_AGAIN}"
        )
    return _parse_credentials(completed.stdout, KEYCHAIN_SOURCE)


def _parse_credentials(raw: str | bytes, source: str) -> Credentials | CredentialsProblem | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return CredentialsProblem(source, "is not valid JSON", SIGN_IN_AGAIN)
    if not isinstance(document, dict):
        return CredentialsProblem(source, "is not a JSON object", SIGN_IN_AGAIN)
    oauth = document.get("claudeAiOauth")
    if oauth is None:
        return None  # signed in some other way (API key) or not at all
    if not isinstance(oauth, dict):
        return CredentialsProblem(source, "claudeAiOauth is not an object", SIGN_IN_AGAIN)
    token = oauth.get("accessToken")
    if not isinstance(token, str) or not token:
        return CredentialsProblem(source, "claudeAiOauth.accessToken is missing or empty", SIGN_IN_AGAIN)
    expires_at = oauth.get("expiresAt")
    if expires_at is not None and (isinstance(expires_at, bool) or not isinstance(expires_at, (int, float))):
        return CredentialsProblem(source, "claudeAiOauth.expiresAt is not Unix milliseconds", SIGN_IN_AGAIN)
    return Credentials(token, _from_epoch_ms(expires_at), source)


def _from_epoch_ms(value: float | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


VERSION_TIMEOUT = 5.0
_PROBE_MARKER = "cli-version-probe"


class VersionProbe:
    """`<agent.command> --version`, in a session of its own that is ended whole: a wrapper
    whose --version leaves a child behind (holding its output, or waiting for ever) neither
    holds up its caller past the timeout nor outlives the probe."""

    def __init__(self, command: str, environ: Mapping[str, str] = os.environ) -> None:
        self._command = command
        self._environ = environ
        self._marker = f"{_PROBE_MARKER}-{os.getpid()}-{id(self)}"
        self._process: subprocess.Popen[bytes] | None = None
        self._started = time.time()
        self.finished = False

    def run(self, timeout: float = VERSION_TIMEOUT) -> str | None:
        """Blocking: "2.1.197" from "2.1.197 (Claude Code)", or None when it cannot say."""
        try:
            self._process = process = subprocess.Popen(
                [self._command, "--version"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**self._environ, MARKER: self._marker},
                start_new_session=True,
            )
        except (OSError, ValueError):
            self.finished = True
            return None
        try:
            try:
                output, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # It may have printed its version and exited, its output held open by a child.
                self.end()
                try:
                    output, _ = process.communicate(timeout=1)
                except subprocess.TimeoutExpired:
                    return None
            match = _VERSION.search(output.decode(errors="replace"))
            return match.group(0) if process.returncode == 0 and match else None
        finally:
            self.end()
            self.finished = True

    def end(self) -> None:
        """Kill whatever the probe started and is still alive (any thread, any number of times)."""
        process = self._process
        if process is None:
            return
        procs.signal_group(process.pid, signal.SIGKILL)
        procs.signal_all(procs.marked([self._marker], self._started)[self._marker], signal.SIGKILL)
        if process.poll() is None:
            process.kill()


def installed_cli_version(command: str, *, timeout: float = VERSION_TIMEOUT) -> str | None:
    """Blocking: the agent CLI's version, or None."""
    return VersionProbe(command).run(timeout)


def tested_versions() -> VersionRange:
    """The Claude Code versions the tests run against (resources/claude-code-versions.txt)."""
    return VersionRange.parse(resource("claude-code-versions.txt").read_text(encoding="utf-8"))


class UsageMeter:
    """Polls the subscription's usage meter; each poll re-reads the credentials Claude Code keeps fresh."""

    def __init__(
        self,
        url: str,
        user_agent: str,
        environ: Mapping[str, str] = os.environ,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        platform: str = sys.platform,
        run_security: SecurityRunner = _run_security,
    ) -> None:
        self._url = url
        self.user_agent = user_agent  # the CLI's version is learnt after the first poll
        self._environ = environ
        self._timeout = timeout
        self._platform = platform
        self._run_security = run_security
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def poll(self, now: dt.datetime) -> PollResult:
        """`now` is timezone-aware UTC."""
        credentials = await asyncio.to_thread(
            read_credentials, self._environ, platform=self._platform, run_security=self._run_security
        )
        if credentials is None:
            return PollResult("no_credentials", self._no_credentials_message())
        if isinstance(credentials, CredentialsProblem):
            return PollResult("no_credentials", credentials.one_line())
        if credentials.expires_at is not None and credentials.expires_at <= now:
            # Claude Code refreshes its own token on its next run; asking now would only earn a 401.
            return PollResult(
                "no_credentials",
                f"the access token in {credentials.source} expired at {credentials.expires_at.isoformat()}; "
                "Claude Code renews it the next time `claude` runs",
            )
        result = await self._get(credentials.access_token, now)
        return _without_token(result, credentials.access_token)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _no_credentials_message(self) -> str:
        where = str(credentials_path(self._environ))
        if self._platform == "darwin":
            where += f" or {KEYCHAIN_SOURCE}"
        return f"no Claude Code sign-in found in {where} — run `claude` and sign in; utilization is unknown"

    async def _get(self, token: str, now: dt.datetime) -> PollResult:
        headers = {
            "Authorization": f"Bearer {token}",
            "anthropic-beta": OAUTH_BETA,
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.get(self._url, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return PollResult("transient", f"no answer within {self._timeout:g} s")
        except httpx.RequestError as exc:
            return PollResult("transient", f"cannot reach the meter ({type(exc).__name__}: {exc})")
        except httpx.InvalidURL as exc:
            return PollResult("transient", f"the meter URL is not valid ({exc})")
        return _classify(response, now)


def _classify(response: httpx.Response, now: dt.datetime) -> PollResult:
    status = response.status_code
    if status in (401, 403):
        return PollResult("auth", _status_message(response), status)
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), now)
        return PollResult("rate_limited", _status_message(response), status, retry_after)
    if status != 200:
        return PollResult("transient", _status_message(response), status)
    try:
        body = response.json()
    except ValueError:
        return PollResult("transient", "the meter answered with something that is not JSON", status)
    usage = usage_from_response(body, now)
    if usage is None:
        return PollResult("transient", f"the meter's answer has an unknown shape ({_shape(body)})", status)
    return PollResult("ok", status=status, usage=usage)


def _status_message(response: httpx.Response) -> str:
    """"HTTP 401" plus the API's own error message when it sent one."""
    message = f"HTTP {response.status_code}"
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return message
    detail = error.get("message") if isinstance(error, dict) else None
    return f"{message}: {detail[:200]}" if isinstance(detail, str) and detail else message


def _shape(body: object) -> str:
    if isinstance(body, dict):
        return "keys: " + ", ".join(sorted(str(key) for key in body)[:10]) if body else "an empty object"
    return f"a JSON {type(body).__name__}, not an object"


def _without_token(result: PollResult, token: str) -> PollResult:
    """The API may echo what it was sent; the token never leaves this module."""
    if token not in result.message:
        return result
    return replace(result, message=result.message.replace(token, "<token>"))


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """`Retry-After` is delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _seconds_until_http_date(text: str, now: dt.datetime) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max((moment - now).total_seconds(), 0.0)
