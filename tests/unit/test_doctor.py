"""docs/BEHAVIOUR.md section 11: `overnight doctor`, as a user runs it."""

import os

import pytest

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
