#!/usr/bin/env python3
"""Captures reference stream-JSON from a real Claude Code CLI, for the stream and outcome tests.

    .venv/bin/python scripts/capture_streams.py CLAUDE_BINARY OUT_DIR

Runs the CLI (`-p --output-format stream-json --verbose`, the prompt on stdin, as Overnight
does) against the fake Anthropic API of tests/fakes/ in a fresh HOME, once per scenario below,
and writes each run's stdout unmodified but for the temporary folders, which become /home/user
(the HOME) and /home/user/project (the cwd). Run it in a loopback-only network namespace
(`unshare -rn`), as ./scripts/test does, so the CLI reaches nothing but the fake.

Scenarios: success, tool_write, bash_background_child, error_max_turns, session_before_resume
and resumed_session (the second continues the first with `--resume <session_id>`),
resume_unknown_session (`--resume` of an id that does not exist), rate_limited_subscription.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.anthropic import FakeAnthropic  # noqa: E402
from tests.fakes.cli import cli_env  # noqa: E402

MARKER = "overnight-capture"

SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "success": ('@agent text "done (ok)"\n', []),
    "tool_write": ('@agent write {"file_path": "notes.txt", "content": "hello from the capture"}\n'
                   '@agent text "done (write)"\n', []),
    # In a session of its own: 2.1.332 refuses a plain background `sleep`, and ends what is left in its shell's.
    "bash_background_child": ('@agent bash {"command": "setsid sleep 300 > /dev/null 2>&1 &"}\n'
                              '@agent text "done (bash)"\n', []),
    "error_max_turns": ('@agent write {"file_path": "turn.txt", "content": "one turn only"}\n@agent text "never"\n',
                        ["--max-turns", "1"]),
}
# Last: the fake then limits the whole account until the reset.
RATE_LIMITED = ('@agent ratelimit {"reset_in": 3600, "claim": "five_hour"}\n@agent text "later"\n', [])


def run(binary: Path, prompt: str, extra: list[str], cwd: Path, env: dict[str, str]) -> str:
    argv = [str(binary), "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions",
            "--model", "sonnet", *extra]
    done = subprocess.run(argv, input=prompt, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout


def end_survivors() -> None:
    """A background child the agent left (bash_background_child) must not outlive the capture."""
    for process in psutil.process_iter():
        try:
            if process.environ().get("OVERNIGHT_RUN") == MARKER:
                process.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with FakeAnthropic() as fake, tempfile.TemporaryDirectory() as temp:
        home, project = Path(temp) / "user", Path(temp) / "user" / "project"
        project.mkdir(parents=True)
        env = {**cli_env(home, fake), "OVERNIGHT_RUN": MARKER}
        captured: dict[str, str] = {}
        try:
            for name, (prompt, extra) in SCENARIOS.items():
                captured[name] = run(binary, prompt, extra, project, env)
            first = run(binary, '@agent write {"file_path": "part1.txt", "content": "1"}\n@agent text "part 1 done"\n',
                        [], project, env)
            session = json.loads(first.splitlines()[0])["session_id"]
            captured["session_before_resume"] = first
            captured["resumed_session"] = run(binary, "Continue where you stopped.\n", ["--resume", session],
                                              project, env)
            captured["resume_unknown_session"] = run(binary, "Continue.\n", ["--resume", str(uuid.uuid4())],
                                                     project, env)
            captured["rate_limited_subscription"] = run(binary, *RATE_LIMITED, project, env)
        finally:
            end_survivors()
        for name, stdout in captured.items():
            text = stdout.replace(str(project), "/home/user/project").replace(str(home), "/home/user")
            text = text.replace(str(project).replace("/", "-"), "-home-user-project")  # the CLI's project key
            (out / f"{name}.jsonl").write_text(text)
            print(f"{out / f'{name}.jsonl'}: {len(text.splitlines())} lines")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
