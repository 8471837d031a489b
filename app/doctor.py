"""`overnight doctor` (docs/BEHAVIOUR.md section 11): checks the agent binary and its version, the
credentials, the usage meter, an API key that would bill runs per token, the home's permissions and
the tray, and says what to fix.

Nothing here changes anything: it reads, asks, and reports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
import subprocess
from collections.abc import Mapping
from typing import Any

from app.config import Config, load_config
from app.core.agent import AGENT_FIX, version_verdict
from app.core.spend import billing_variables, billing_warning
from app.core.usage import shown_percent
from app.engine.runner import find_agent
from app.engine.usage import (
    Credentials,
    CredentialsProblem,
    UsageMeter,
    credentials_path,
    installed_cli_version,
    meter_url,
    read_credentials,
    tested_versions,
    user_agent,
)
from app.paths import Home, self_command

Check = tuple[bool, str]
"""(fine, the line printed): a line that is not fine says what to fix."""


def run_checks(home: Home) -> list[Check]:
    """Every check, in the order printed; each one answers even when the others cannot."""
    return [
        _check_config(home),
        *setup_checks(home),
        *_check_billing(home),
        _check_home(home),
        _check_tray(),
    ]


def setup_checks(home: Home, environ: Mapping[str, str] = os.environ) -> list[Check]:
    """What a first run needs (the desktop app's set-up checklist shows these): the agent and its
    version, the credentials, and the usage meter answering with them. Blocking: it runs the
    agent's `--version` and asks the usage meter."""
    config = _settings(home)
    return [agent_check(config.agent.command, environ.get("PATH")), *_check_credentials_and_meter(config, environ)]


def _check_billing(home: Home, environ: Mapping[str, str] = os.environ) -> list[Check]:
    """An API key in the environment runs would start from (docs/BEHAVIOUR.md section 15)."""
    config = _settings(home)
    found = billing_variables(environ, config.agent.env_remove)
    if not found:
        return [(True, "billing: no API key reaches the agent; runs use your subscription")]
    return [(config.spend.allow_api_billing and name != "ANTHROPIC_AUTH_TOKEN",
             billing_warning(name, config.spend.allow_api_billing)) for name in found]


def _check_config(home: Home) -> Check:
    if not home.config.exists():
        return True, f"config: {home.config} does not exist yet; the defaults apply (it is created on first start)"
    loaded = load_config(home.config)
    return (loaded.ok, f"config: {home.config} is valid" if loaded.ok else loaded.summary())


def _settings(home: Home) -> Config:
    """The settings to check with: the file's, or the defaults while there is none (doctor never
    creates config.yaml, which `load_config` would)."""
    return load_config(home.config).config if home.config.exists() else Config()


def agent_check(command: str, path: str | None = None) -> Check:
    """Found (as the engine looks for it, in `path` or as a file), and its version against the
    tested range: a newer one is fine, an older one is not. Blocking: runs `<agent> --version`."""
    program = find_agent(command, path)
    if program is None:
        return False, f"agent: {command!r} is not found (not on PATH, and not an executable file) — {AGENT_FIX}"
    fine, verdict = version_verdict(installed_cli_version(program), tested_versions())
    return fine, f"agent: {program}, Claude Code {verdict}"


def _check_credentials_and_meter(config: Config, environ: Mapping[str, str]) -> list[Check]:
    credentials = read_credentials(environ)
    if credentials is None:
        return [(False, (f"credentials: none found ({credentials_path(environ)}) — run `claude` and sign in; "
                         "without them the usage meter is unknown (usage.when_unknown decides)"))]
    if isinstance(credentials, CredentialsProblem):
        return [(False, f"credentials: {credentials.one_line()}")]
    assert isinstance(credentials, Credentials)
    lines: list[Check] = []
    expired = credentials.expires_at is not None and credentials.expires_at < dt.datetime.now(dt.UTC)
    lines.append((not expired, f"credentials: {credentials.source}"
                  + (" — the token has expired; run `claude` once to refresh it" if expired else "")))
    url = meter_url(config.usage.url, environ)
    version = installed_cli_version(config.agent.command)

    async def poll() -> Any:
        meter = UsageMeter(url=url, user_agent=user_agent(version), environ=environ)
        try:
            return await meter.poll(dt.datetime.now(dt.UTC))
        finally:
            await meter.aclose()

    result = asyncio.run(poll())
    if result.kind == "ok" and result.usage is not None:
        lines.append((True, (f"usage meter: five-hour {shown_percent(result.usage.five_hour.utilization)}, "
                             f"seven-day {shown_percent(result.usage.seven_day.utilization)}")))
    else:
        lines.append((False, f"usage meter: {result.kind}: {result.message}"))
    return lines


def _check_home(home: Home) -> Check:
    if not home.root.exists():
        return True, f"home: {home.root} does not exist yet; it is created on first start"
    loose = []
    for folder in (home.root, *home.folders):
        if folder.exists() and stat.S_IMODE(folder.stat().st_mode) & 0o077:
            loose.append(f"{folder} (chmod 700)")
    for file in (home.config, home.queue, home.queue_backup, home.history):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            loose.append(f"{file} (chmod 600)")
    if loose:
        return False, "home: readable by others: " + ", ".join(loose)
    return True, f"home: {home.root} (private)"


def _check_tray() -> Check:
    """Asks a process of its own (Qt aborts a process that has no display)."""
    try:
        out = subprocess.run([*self_command(), "doctor", "--probe-tray"], capture_output=True, text=True, timeout=30,
                             env={**os.environ}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"tray: could not start Qt ({exc})"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return False, f"tray: Qt cannot open a display here ({last}) — the desktop app needs a graphical session"
    if out.stdout.strip() == "yes":
        return True, "tray: a system tray is available"
    return False, "tray: no system tray here — the app still works from its window"


def probe_tray() -> int:
    """`overnight doctor --probe-tray`, run by `_check_tray`: prints yes or no."""
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication([])
    print("yes" if QSystemTrayIcon.isSystemTrayAvailable() else "no")
    app.shutdown()
    return 0
