"""docs/BEHAVIOUR.md section 11: `overnight doctor`, as a user runs it."""

import os

import pytest
import yaml

from tests.support import FAKE_AGENT, make_home, overnight


def test_doctor_names_what_to_fix(tmp_path):
    home, environ, _ = make_home(tmp_path)
    environ = {**environ, "PATH": os.defpath}
    out = overnight("doctor", "--home", str(home.root), env=environ, timeout=120)
    assert out.returncode == 1
    assert "credentials: none found" in out.stdout
    assert "home:" in out.stdout and "tray:" in out.stdout


@pytest.mark.parametrize(("version", "mark", "words"), [
    ("2.1.999", "ok  ", "2.1.999 — newer than tested"),
    ("2.1.100", "FIX ", "2.1.100 — older than tested"),
])
def test_doctor_reports_the_agent_version_against_the_tested_range_and_never_refuses_it(tmp_path, version,
                                                                                        mark, words):
    home, environ, _ = make_home(tmp_path)
    agent = tmp_path / "claude"
    agent.write_text(f'#!/bin/sh\necho "{version} (Claude Code)"\n')
    agent.chmod(0o755)
    home.config.write_text(home.config.read_text().replace(str(FAKE_AGENT), str(agent)))
    out = overnight("doctor", "--home", str(home.root), env=environ, timeout=120)
    [line] = [line for line in out.stdout.splitlines() if "agent:" in line]
    assert line.startswith(mark) and words in line and "2.1.197" in line


def test_doctor_warns_of_an_api_key_that_would_reach_the_agent_without_printing_it(tmp_path):
    home, environ, _ = make_home(tmp_path)
    secret = "sk-ant-api03-do-not-print"
    environ = {**environ, "ANTHROPIC_API_KEY": secret}
    out = overnight("doctor", "--home", str(home.root), env=environ, timeout=120)
    [line] = [line for line in out.stdout.splitlines() if "billing:" in line]
    assert line.startswith("FIX ") and "ANTHROPIC_API_KEY is set" in line and "stopped at once" in line
    for fix in ("unset ANTHROPIC_API_KEY", "agent.env_remove", "spend.allow_api_billing: true"):
        assert fix in line
    assert secret not in out.stdout + out.stderr
    settings = yaml.safe_load(home.config.read_text())
    home.config.write_text(yaml.safe_dump({**settings, "spend": {"allow_api_billing": True}}))
    out = overnight("doctor", "--home", str(home.root), env=environ, timeout=120)
    [line] = [line for line in out.stdout.splitlines() if "billing:" in line]
    assert line.startswith("ok  ") and "billed per token through it" in line
    settings["agent"]["env_remove"] = ["ANTHROPIC_API_KEY"]
    home.config.write_text(yaml.safe_dump(settings))
    out = overnight("doctor", "--home", str(home.root), env=environ, timeout=120)
    [line] = [line for line in out.stdout.splitlines() if "billing:" in line]
    assert line.startswith("ok  ") and "runs use your subscription" in line
