"""SPEC section 7: how an agent is started, as data."""

from app.core.agent import MARKER, agent_argv, agent_env, run_marker


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
