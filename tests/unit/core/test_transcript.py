import pytest

from app.core.transcript import describe_tool_call, render_text

from .captures import capture, read_all

# The real CLI's output


def test_the_transcript_of_a_write_names_the_file_and_sums_up_the_result():
    text = render_text(read_all(capture("tool_write.jsonl")))
    assert text.splitlines()[1:] == [
        "→ Write /home/user/project/notes.txt",
        "← ok (124 chars)",
        "assistant: done (write)",
        "result: success, 2 turns, $0.0005, 0.2 s",
    ]


# Tool labels and the transcript


@pytest.mark.parametrize(
    ("name", "tool_input", "label"),
    [
        ("Write", {"file_path": "/p/notes.txt", "content": "x"}, "Write /p/notes.txt"),
        ("Edit", {"file_path": "/p/a.py"}, "Edit /p/a.py"),
        ("Read", {"file_path": "/p/b.py"}, "Read /p/b.py"),
        ("NotebookEdit", {"notebook_path": "/p/n.ipynb"}, "NotebookEdit /p/n.ipynb"),
        ("Bash", {"command": "cd /p &&\npytest -q"}, "Bash cd /p && …"),
        ("Bash", {"command": "x" * 200}, "Bash " + "x" * 119 + "…"),
        ("Grep", {"pattern": "def main"}, "Grep def main"),
        ("Glob", {"pattern": "**/*.py"}, "Glob **/*.py"),
        ("WebFetch", {"url": "https://example.com"}, "WebFetch https://example.com"),
        ("WebSearch", {"query": "zoneinfo"}, "WebSearch zoneinfo"),
        ("Task", {"description": "review the diff"}, "Task review the diff"),
        ("Agent", {"description": "explore"}, "Agent explore"),
        ("TodoWrite", {"todos": [{}, {}, {}]}, "TodoWrite 3 items"),
        ("Write", {"file_path": 7}, "Write"),
        ("mcp__db__query", {"sql": "select 1"}, "mcp__db__query"),
    ],
)
def test_a_tool_call_is_labelled_with_its_key_argument(name, tool_input, label):
    assert describe_tool_call(name, tool_input) == label


def test_the_transcript_of_a_limit_shows_the_rejection_the_notice_and_the_error_result():
    assert render_text(read_all(capture("rate_limited_subscription.jsonl"))).splitlines()[1:] == [
        "rate limit: rejected (five_hour), resets 2026-11-22T02:44:55+00:00",
        "cli: You've hit your session limit · resets 2:44am (UTC)",
        "result: error (429), 1 turn, $0.0000, 0.1 s: "
        "You've hit your session limit · resets 2:44am (UTC)",
    ]


def test_the_transcript_of_a_failed_run_ends_with_the_error_subtype_and_reason():
    text = render_text(read_all(capture("error_max_turns.jsonl")))
    assert text.endswith(
        "result: error_max_turns, 2 turns, $0.0002, 0.2 s: Reached maximum number of turns (1)"
    )
