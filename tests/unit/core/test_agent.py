"""docs/BEHAVIOUR.md section 7: how an agent is started, as data; which versions of it are tested."""

from pathlib import Path

import pytest

from app.core.agent import MARKER, VersionRange, agent_argv, agent_env, run_marker, version_verdict


def test_the_argv_is_claude_p_stream_json_verbose_skip_permissions_model_then_extra_args():
    assert agent_argv("claude", "opus", ["--max-turns", "200"]) == [
        "claude", "-p", "--output-format", "stream-json", "--verbose",
        "--dangerously-skip-permissions", "--model", "opus", "--max-turns", "200",
    ]


def test_the_prompt_is_never_on_the_argv():
    assert all("PROMPT" not in arg for arg in agent_argv("claude", "sonnet"))


def test_the_environment_drops_nested_session_markers_and_env_remove_and_adds_the_run_marker():
    environ = {"PATH": "/bin", "CLAUDECODE": "1", "CLAUDE_CODE_ENTRYPOINT": "cli", "SECRET": "x", "HOME": "/h"}
    env = agent_env(environ, ["SECRET"], run_marker("20261122-010203-abc", "07-login"))
    assert env == {"PATH": "/bin", "HOME": "/h", MARKER: "20261122-010203-abc/07-login"}
    assert environ["CLAUDECODE"] == "1"


TESTED = VersionRange("2.1.197", "2.1.332")


@pytest.mark.parametrize(("installed", "fine", "words"), [
    ("2.1.197", True, "within the tested range (2.1.197–2.1.332)"),
    ("2.1.332", True, "within the tested range"),
    ("2.1.340", True, "newer than tested (2.1.197–2.1.332); usually fine"),
    ("2.2.0-beta.1", True, "newer than tested"),
    ("2.1.96", False, "older than tested"),
    (None, False, "version unknown"),
])
def test_the_installed_cli_is_judged_against_the_tested_range_by_number_not_by_text(installed, fine, words):
    assert version_verdict(installed, TESTED)[0] is fine
    assert words in version_verdict(installed, TESTED)[1]


def test_the_tested_versions_are_read_from_their_one_file():
    text = (Path(__file__).resolve().parents[3] / "resources" / "claude-code-versions.txt").read_text()
    tested = VersionRange.parse(text)
    assert tested.oldest == "2.1.197"
    assert version_verdict(tested.newest, tested)[0]
