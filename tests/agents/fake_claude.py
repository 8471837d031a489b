#!/usr/bin/env python3
"""A stand-in for `claude -p --output-format stream-json` for the engine tier: it prints
lines shaped exactly like the real CLI 2.1.197 captures in tests/data/cli-2.1.197/, scripted by
`@fake <verb> [json]` lines in the prompt it reads on stdin. The e2e tier uses the real CLI.

Verbs, played in order: text "…" | write {"file_path", "content"} | sleep N |
orphan {"seconds": N} (a `sleep` in its own session, as the real Bash tool starts it) |
result {"is_error", "subtype", "text"} (the process goes on: e.g. `hang` after it) |
ratelimit {"reset_in": N, "type": "five_hour"} |
limit_event {"status", "resetsAt"} (only the rate_limit_event line; the run goes on) |
max_turns | exit N | hang | garbage | stderr "…" | spew {"mb": N, "mb_per_s": R} |
env NAME (prints an assistant line with that environment variable).
Without a result or exit the script ends with a successful result.

Its init event's `apiKeySource` is what the real CLI says: `ANTHROPIC_API_KEY` when that variable
is in its environment, else `none` (the subscription).

With FAKE_CLAUDE_RUNS=<file> in its environment, each run appends its OVERNIGHT_RUN marker
to that file as it starts: how tests count the runs that really happened.

An investigation prompt (it names an absolute `…/prds/` or `…/fix-plans/NN-fix-….md` path on a line of its
own) plays `@investigator` lines instead, the failed PRD's own `@fake` lines being only
quoted there: `write-fix-plan` (the default), `nothing`, and the verbs above.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid

SESSION = str(uuid.uuid4())
MODEL = "claude-sonnet-4-6"


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def assistant(content: list, model: str = MODEL, **extra) -> None:
    message = {
        "id": f"msg_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
        "context_management": None,
    }
    emit({"type": "assistant", "message": message, "parent_tool_use_id": None, "session_id": SESSION,
          "uuid": str(uuid.uuid4()), **extra})


def tool(name: str, tool_input: dict, output: str) -> None:
    tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
    assistant([{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}])
    emit({"type": "user", "message": {"role": "user", "content": [
        {"tool_use_id": tool_id, "type": "tool_result", "content": output, "is_error": False}]},
        "parent_tool_use_id": None, "session_id": SESSION, "uuid": str(uuid.uuid4())})


def result(turns: int, is_error: bool = False, subtype: str = "success", text: str = "done", **extra) -> None:
    emit({"type": "result", "subtype": subtype, "is_error": is_error, "api_error_status": extra.pop("status", None),
          "duration_ms": 133, "duration_api_ms": 26, "num_turns": turns, "result": text, "stop_reason": "end_turn",
          "session_id": SESSION, "total_cost_usd": 0.000235,
          "usage": {"input_tokens": 12, "output_tokens": 7}, "modelUsage": {}, "permission_denials": [],
          "terminal_reason": "completed", "uuid": str(uuid.uuid4()), **extra})


FIX_PLAN_LINE = re.compile(r"^\s+(/\S+/(?:prds|fix-plans)/\d+-fix-\S+\.md)$", re.MULTILINE)


def directives(prompt: str, prefix: str) -> list[tuple[str, object]]:
    steps = []
    for line in prompt.splitlines():
        line = line.strip()
        if not line.startswith(prefix + " "):
            continue
        verb, _, arg = line[len(prefix) + 1:].partition(" ")
        steps.append((verb, json.loads(arg) if arg.strip() else None))
    return steps


def fix_plan(prompt: str, path: str) -> str:
    cwd = re.search(r"^\s*cwd: (.+)$", prompt, re.MULTILINE).group(1).strip()
    group = re.search(r"^\s*parallelGroup: (\d+)$", prompt, re.MULTILINE).group(1)
    title = re.search(r"^- Title: (.+)$", prompt, re.MULTILINE).group(1).strip()
    # A worktree job's fix plan continues from its branch, and changes a file there.
    worktree = "".join(m.group(0).strip() + "\n" for m in re.finditer(r"^\s*(workspace|base): .+$", prompt, re.M))
    fix = '@fake write {"file_path": "fixed.txt", "content": "fixed"}\n' if worktree else ""
    return (f'---\ntitle: {json.dumps("Fix: " + title)}\ncwd: {cwd}\nparallelGroup: {group}\nestimateMinutes: 5\n'
            f"{worktree}---\nRoot cause: the task ended without finishing.\n{fix}@fake text \"fix applied\"\n")


def investigation_steps(prompt: str, path: str) -> list[tuple[str, object]]:
    steps = directives(prompt, "@investigator") or [("write-fix-plan", None)]
    played = []
    for verb, arg in steps:
        if verb == "write-fix-plan":
            played.append(("write", {"file_path": path, "content": fix_plan(prompt, path)}))
        elif verb != "nothing":
            played.append((verb, arg))
    return played


def main() -> int:
    if "--version" in sys.argv[1:]:
        print("2.1.197 (Claude Code)")
        return 0
    runs = os.environ.get("FAKE_CLAUDE_RUNS")
    if runs:
        with open(runs, "a") as file:
            file.write(os.environ.get("OVERNIGHT_RUN", "?") + "\n")
    prompt = sys.stdin.read()
    emit({"type": "system", "subtype": "init", "cwd": os.getcwd(), "session_id": SESSION, "tools": ["Bash", "Write"],
          "mcp_servers": [], "model": MODEL, "permissionMode": "bypassPermissions",
          "apiKeySource": "ANTHROPIC_API_KEY" if os.environ.get("ANTHROPIC_API_KEY") else "none",
          "claude_code_version": "2.1.197", "uuid": str(uuid.uuid4())})
    turns = 1
    exit_code = None
    fix_path = FIX_PLAN_LINE.search(prompt)
    steps = investigation_steps(prompt, fix_path.group(1)) if fix_path else directives(prompt, "@fake")
    for verb, arg in steps:
        if verb == "text":
            assistant([{"type": "text", "text": arg}])
        elif verb == "write":
            path = os.path.join(os.getcwd(), arg["file_path"])
            with open(path, "w") as file:
                file.write(arg["content"])
            tool("Write", {"file_path": path, "content": arg["content"]}, f"File created successfully at: {path}")
            turns += 1
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "orphan":
            subprocess.Popen(["sleep", str(arg["seconds"])], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tool("Bash", {"command": f"sleep {arg['seconds']} &"}, "(Bash completed with no output)")
            turns += 1
        elif verb == "result":
            result(turns, **(arg or {}))
            exit_code = 1 if (arg or {}).get("is_error") else 0
        elif verb == "ratelimit":
            resets = int(time.time()) + int(arg.get("reset_in", 60))
            emit({"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": resets,
                  "rateLimitType": arg.get("type", "five_hour"), "isUsingOverage": False},
                  "uuid": str(uuid.uuid4()), "session_id": SESSION})
            text = "You've hit your session limit · resets 2:44am (UTC)"
            assistant([{"type": "text", "text": text}], model="<synthetic>", error="rate_limit")
            result(1, is_error=True, text=text, status=429)
            return 1
        elif verb == "limit_event":
            emit({"type": "rate_limit_event", "rate_limit_info": {"isUsingOverage": True, **arg},
                  "uuid": str(uuid.uuid4()), "session_id": SESSION})
        elif verb == "max_turns":
            emit({"type": "result", "subtype": "error_max_turns", "is_error": True, "num_turns": turns,
                  "duration_ms": 211, "session_id": SESSION, "total_cost_usd": 0.000235,
                  "errors": ["Reached maximum number of turns (1)"], "uuid": str(uuid.uuid4())})
            return 1
        elif verb == "exit":
            return int(arg)
        elif verb == "hang":
            while True:
                time.sleep(3600)
        elif verb == "garbage":
            sys.stdout.write("this is not JSON {\n")
            sys.stdout.flush()
        elif verb == "stderr":
            sys.stderr.write(f"{arg}\n")
            sys.stderr.flush()
        elif verb == "env":
            assistant([{"type": "text", "text": f"{arg}={os.environ.get(arg, '')}"}])
        elif verb == "spew":
            spew(float(arg["mb"]), float(arg["mb_per_s"]))
    if exit_code is None:
        result(turns)
        exit_code = 0
    return exit_code


def spew(megabytes: float, rate: float) -> None:
    """Realistic assistant lines at `rate` MB/s, for the tailing benchmark."""
    text = "x" * 900
    line_bytes = 1100
    lines_per_tick = max(1, int(rate * 1_000_000 / line_bytes / 20))
    total = int(megabytes * 1_000_000 / line_bytes)
    sent = 0
    while sent < total:
        start = time.monotonic()
        for _ in range(min(lines_per_tick, total - sent)):
            assistant([{"type": "text", "text": text}])
        sent += lines_per_tick
        time.sleep(max(0.0, 0.05 - (time.monotonic() - start)))


if __name__ == "__main__":
    sys.exit(main())
