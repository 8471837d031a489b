"""Helpers to run the real Claude Code CLI against ``FakeAnthropic``.

The environment logs the CLI in with a fake subscription under a test HOME:
``~/.claude/.credentials.json`` (the OAuth token) and ``~/.claude.json`` (the account profile the
CLI caches). Without a profile fetched less than a day ago the CLI asks
https://api.anthropic.com/api/oauth/profile for one, even with nonessential traffic disabled:
``ANTHROPIC_BASE_URL`` does not redirect that host.
``CLAUDE_CONFIG_DIR`` is left unset, so the CLI and Overnight's usage meter both read
``$HOME/.claude``; the CLI honours ``CLAUDE_CONFIG_DIR`` as well, but one layout is enough.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.anthropic import FakeAnthropic

REPO_ROOT = Path(__file__).resolve().parents[2]
NEWEST, OLDEST = "OVERNIGHT_TEST_CLAUDE", "OVERNIGHT_TEST_CLAUDE_OLDEST"

# The fake subscription login: with it (and no API key) the CLI reports usage limits at once.
FAKE_CREDENTIALS = {
    "claudeAiOauth": {
        "accessToken": "sk-ant-oat01-x",
        "refreshToken": "x",
        "expiresAt": 4102444800000,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
}

FAKE_PROFILE = {
    "accountUuid": "00000000-0000-4000-8000-000000000001",
    "emailAddress": "overnight-tests@example.invalid",
    "organizationUuid": "00000000-0000-4000-8000-000000000002",
    "displayName": "Overnight tests",
    "billingType": "stripe_subscription",
    "hasExtraUsageEnabled": False,
    "accountCreatedAt": "2025-01-01T00:00:00Z",
    "subscriptionCreatedAt": "2025-01-01T00:00:00Z",
    "ccOnboardingFlags": {},
}

# Inherited variables that would change how the CLI authenticates, where it connects or what it reads.
_DROPPED_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAUDECODE")
_DROPPED = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"})


def tested_version(which: str) -> str:
    """"2.1.332" for "newest", from resources/claude-code-versions.txt (the one place it is written)."""
    for line in (REPO_ROOT / "resources" / "claude-code-versions.txt").read_text().splitlines():
        if line.split()[:1] == [which]:
            return line.split()[1]
    raise LookupError(f"no {which} version in resources/claude-code-versions.txt")


def claude_binary(variable: str = NEWEST) -> Path:
    """A CLI to test with: ``$OVERNIGHT_TEST_CLAUDE`` (the newest tested version, or the one
    `scripts/cli-check` checks) or ``$OVERNIGHT_TEST_CLAUDE_OLDEST``, else the newest that
    ./scripts/test installs in .venv."""
    default = REPO_ROOT / ".venv" / f"claude-code-{tested_version('newest')}" / "node_modules" / ".bin" / "claude"
    binary = Path(os.environ.get(variable) or default)
    if not binary.exists():
        raise FileNotFoundError(
            f"The Claude Code CLI is not installed at {binary}: run ./scripts/test once to install it "
            f"(or point {variable} at a claude binary)."
        )
    return binary


@functools.cache
def cli_version(binary: Path) -> str:
    """What `claude --version` says, e.g. "2.1.332"."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    return out.stdout.split()[0] if out.stdout.strip() else "unknown"


def write_credentials(config_dir: Path) -> Path:
    config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _write_private(config_dir / ".credentials.json", FAKE_CREDENTIALS)


def write_profile(home: Path) -> Path:
    """Cache a freshly fetched account profile in ``~/.claude.json``, keeping the CLI's other state."""
    path = home / ".claude.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state["oauthAccount"] = {**FAKE_PROFILE, "profileFetchedAt": int(time.time() * 1000)}
    return _write_private(path, state)


def _write_private(path: Path, document: Mapping[str, Any]) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(document, file)
    path.chmod(0o600)
    return path


def cli_env(home: Path, fake: FakeAnthropic, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which the CLI is logged in to a fake subscription served by ``fake``, and
    Overnight's usage meter polls the same fake. ``base`` (default ``os.environ``) gives PATH etc."""
    write_credentials(home / ".claude")
    write_profile(home)
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
    env.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=fake.url,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        IS_SANDBOX="1",
        NO_PROXY="127.0.0.1,localhost",
        OVERNIGHT_USAGE_URL=fake.usage_url,
    )
    env.setdefault("PATH", os.defpath)
    return env


def cli_argv(*extra: str, model: str = "sonnet") -> list[str]:
    return [
        str(claude_binary()),
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
        "--model",
        model,
        *extra,
    ]


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return parse_stream(self.stdout)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def result(self) -> dict[str, Any]:
        results = self.of_type("result")
        assert len(results) == 1, f"expected one result line, got {len(results)}:\n{self.stdout}\n{self.stderr}"
        return results[0]


def parse_stream(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_claude(
    prompt: str, *, cwd: Path, env: Mapping[str, str], extra: Sequence[str] = (), timeout: float = 60
) -> CliRun:
    done = subprocess.run(
        cli_argv(*extra), input=prompt, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    return CliRun(done.returncode, done.stdout, done.stderr)
