"""The command line (docs/BEHAVIOUR.md section 11): argument parsing and the subcommands, with
`overnight doctor`'s checks in `app.doctor`. Exit codes: 0 success, 1 error, 2 usage error,
3 stopped on a pause that needs the user."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app import __version__
from app.config import load_config
from app.core.text import session_words
from app.core.usage import shown_percent
from app.paths import Home, ensure_home, ensure_root, resolve_home

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NEEDS_USER = 0, 1, 2, 3
IDLE_CHECK = 0.2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors: keep it, say it clearly
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"overnight: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                      help="the folder holding this queue (default: $OVERNIGHT_HOME or the platform data folder)")
    parser = _Parser(
        prog="overnight",
        parents=[home],
        description="Runs PRD files as headless Claude Code sessions, in ordered groups, "
        "while your subscription has headroom.",
    )
    parser.add_argument("--version", action="version", version=f"overnight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("gui", parents=[home], help="the desktop app (the default)")

    run = sub.add_parser("run", parents=[home], help="the engine without a window")
    run.add_argument("--until-idle", action="store_true",
                     help="exit 0 once nothing is pending, running or investigating; exit 3 on a pause "
                     "that needs you (manual, auth, state)")
    run.add_argument("--json-logs", action="store_true", help="one JSON object per line on stderr")
    run.add_argument("--stop-jobs-on-exit", action="store_true",
                     help="stop running agents on exit (by default they keep running and are adopted next time)")

    status = sub.add_parser("status", parents=[home], help="the queue, from the running engine or from disk")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    add = sub.add_parser("add", parents=[home], help="copy PRD files (or folders of them) into prds/")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--group", type=int, metavar="N", help="the group for files whose name has no NN- prefix")

    pause = sub.add_parser("pause", parents=[home], help="stop starting new runs (running ones go on)")
    pause.add_argument("--reason", metavar="TEXT", help="shown in the pause banner")
    sub.add_parser("resume", parents=[home], help="end a pause")
    sub.add_parser("tick", parents=[home], help="start a batch now, whatever the gate says (clears a pause)")
    for name, text in (("cancel", "stop a running job, or cancel a pending one"),
                       ("rerun", "queue a finished job again"),
                       ("approve", "run a held fix plan (it moves into prds/)"),
                       ("discard", "put a held fix plan aside in fix-plans/discarded/ (it is kept), or throw away "
                                   "the worktree and branch of a job that needs review"),
                       ("accept", "take the work of a job that needs review as done"),
                       ("merge", "try the merge of a job that needs review again")):
        one = sub.add_parser(name, parents=[home], help=text)
        one.add_argument("slug")
    report = sub.add_parser("report", parents=[home], help="what happened since the last report, written to reports/")
    report.add_argument("--since", metavar="ISO-8601", help="the period's start (default: the previous report's end)")
    report.add_argument("--json", action="store_true", help="the same data as one JSON object")

    doctor = sub.add_parser("doctor", parents=[home], help="check the agent, credentials, usage meter, home and tray")
    doctor.add_argument("--probe-tray", action="store_true", help=argparse.SUPPRESS)  # the tray check's own process
    desktop = sub.add_parser("install-desktop", parents=[home],
                             help="add Overnight to the desktop menu (with --autostart: start it at login too)")
    desktop.add_argument("--autostart", action="store_true", help="start the app at login too")
    desktop.add_argument("--uninstall", action="store_true",
                         help="remove what install-desktop wrote (with --autostart: only the autostart entry)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        home = resolve_home(getattr(args, "home", None))
    except ValueError as exc:
        print(f"overnight: {exc}", file=sys.stderr)
        return EXIT_USAGE
    command = args.command or "gui"
    handlers: dict[str, Callable[[Home, argparse.Namespace], int]] = {
        "gui": _gui,
        "run": _run,
        "status": _status,
        "add": _add,
        "pause": lambda h, a: _send(h, {"cmd": "pause", "reason": a.reason}, "paused"),
        "resume": lambda h, a: _send(h, {"cmd": "resume"}, "resumed"),
        "tick": lambda h, a: _send(h, {"cmd": "tick"}, "ticked"),
        "cancel": lambda h, a: _send(h, {"cmd": "cancel", "slug": a.slug}, f"cancelling {a.slug}"),
        "rerun": lambda h, a: _send(h, {"cmd": "rerun", "slug": a.slug}, f"{a.slug} queued again"),
        "approve": lambda h, a: _send(h, {"cmd": "approve", "slug": a.slug}, f"{a.slug} moved into prds/"),
        "discard": lambda h, a: _send(h, {"cmd": "discard", "slug": a.slug}, f"{a.slug} discarded"),
        "accept": lambda h, a: _send(h, {"cmd": "accept", "slug": a.slug}, f"{a.slug} accepted"),
        "merge": lambda h, a: _send(h, {"cmd": "merge", "slug": a.slug}, f"{a.slug} merged"),
        "report": _report,
        "doctor": _doctor,
        "install-desktop": _install_desktop,
    }
    try:
        return handlers[command](home, args)
    except KeyboardInterrupt:
        return EXIT_ERROR


# ---------------------------------------------------------------- gui


def _gui(home: Home, args: argparse.Namespace) -> int:
    from app.gui.app import run_gui

    return run_gui(home)


# ---------------------------------------------------------------- run


def _run(home: Home, args: argparse.Namespace) -> int:
    """Exits 1 only when another engine holds the home or the home cannot be made: whatever
    else is wrong in it, the engine quarantines, reports and starts."""
    from app.engine.lock import EngineLocked

    try:
        ensure_root(home)
    except OSError as exc:
        print(f"overnight: the home {home.root} cannot be made: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return asyncio.run(_run_engine(home, args))
    except EngineLocked as exc:
        print(f"overnight: {exc}", file=sys.stderr)
        return EXIT_ERROR


async def _run_engine(home: Home, args: argparse.Namespace) -> int:
    from app.engine.engine import Engine
    from app.engine.events import HumanLines, JsonLines
    from app.engine.lock import EngineLock

    with EngineLock(home.lock):
        engine = Engine(home)
        lines = JsonLines() if args.json_logs else HumanLines()
        engine.subscribe(lines)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        code = EXIT_OK
        try:
            await engine.start()
            await engine.serve_control()
            if args.until_idle:
                code = await _until_idle(engine, stop)
            else:
                await stop.wait()
        finally:
            await engine.stop(stop_jobs=args.stop_jobs_on_exit)
            lines.close()
        return code


async def _until_idle(engine: Any, stop: asyncio.Event) -> int:
    """Waits through pauses that end by themselves; stops on one that needs the user once
    nothing runs any more."""
    while not stop.is_set():
        if engine.is_idle():
            await engine.housekeeping.final_report()
            return EXIT_OK
        why = engine.needs_user()
        if why is not None and not engine.runs.has_live():
            print(f"overnight: stopped: {why}", file=sys.stderr)
            return EXIT_NEEDS_USER
        try:
            await asyncio.wait_for(stop.wait(), IDLE_CHECK)
        except TimeoutError:
            pass
    return EXIT_OK


# ---------------------------------------------------------------- status


def _status(home: Home, args: argparse.Namespace) -> int:
    from app.engine.control import EngineNotRunning, request_sync

    try:
        answer = request_sync(home.socket, {"cmd": "status"})
    except EngineNotRunning:
        answer = _status_from_disk(home)
        if answer is None:
            return EXIT_ERROR
    if not answer.get("ok", True):
        print(f"overnight: {answer.get('error')}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        keys = ("engine", "paused", "usage", "jobs")
        print(json.dumps({key: answer.get(key) for key in keys}, indent=2))
    else:
        print(_render_status(answer))
    return EXIT_OK


def _status_from_disk(home: Home) -> dict[str, Any] | None:
    from app.core.queue import QueueState
    from app.core.queue_json import QueueFileError, job_to_json, pause_to_json, state_from_json
    from app.engine.commands import status_usage

    try:
        state = state_from_json(json.loads(home.queue.read_bytes())) if home.queue.exists() else QueueState()
    except (OSError, ValueError, QueueFileError) as exc:
        print(f"overnight: {home.queue} cannot be read: {exc}", file=sys.stderr)
        return None
    return {
        "engine": None,
        "paused": pause_to_json(state.paused),
        "usage": {**status_usage(state.usage), "stale": True},
        "jobs": [job_to_json(job) for job in sorted(state.jobs.values(), key=lambda j: (j.group, j.slug))],
    }


def _report(home: Home, args: argparse.Namespace) -> int:
    """The report of a period, from the home's files (with or without a running engine)."""
    import datetime as dt

    from app.config import effective_concurrency_cap, gate_policy
    from app.core import gate as gates
    from app.core.batching import waiting_reasons
    from app.core.queue import QueueState
    from app.core.queue_json import QueueFileError, state_from_json
    from app.core.times import parse_ts
    from app.engine import reports

    since = reports.previous(home)
    if args.since is not None:
        given = parse_ts(args.since)
        if given is None:
            print(f"overnight: --since {args.since!r} is not an ISO-8601 time with a zone; "
                  "write it like 2026-01-31T22:00:00Z or 2026-01-31T23:00+01:00", file=sys.stderr)
            return EXIT_USAGE
        since = given
    try:
        state = state_from_json(json.loads(home.queue.read_bytes())) if home.queue.exists() else QueueState()
    except (OSError, ValueError, QueueFileError) as exc:
        print(f"overnight: {home.queue} cannot be read: {exc}", file=sys.stderr)
        return EXIT_ERROR
    config = load_config(home.config).config
    now = dt.datetime.now(dt.UTC)
    decision = gates.decide(gate_policy(config), state.usage, state.paused, state.on_reset, now)
    waiting = waiting_reasons(state.jobs, decision, effective_concurrency_cap(config))
    try:
        ensure_home(home)
        written = reports.make(home, state.jobs, waiting, since, now)
    except OSError as exc:
        print(f"overnight: the report cannot be written to {home.reports}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(written.report, indent=2) if args.json else written.markdown.rstrip())
    print(f"written to {written.path}", file=sys.stderr)
    return EXIT_OK


def _render_status(answer: dict[str, Any]) -> str:
    lines = []
    engine = answer.get("engine")
    lines.append(f"Engine: running, pid {engine['pid']} since {engine['startedAt']}" if engine
                 else "Engine: not running (read from queue.json)")
    paused = answer.get("paused")
    if paused:
        until = f" until {paused['resumeAt']}" if paused.get("resumeAt") else ""
        lines.append(f"Queue: paused ({paused['reason']}){until} — {paused['message']}")
    elif answer.get("gate"):
        gate = answer["gate"]
        state = "open" if gate["open"] else f"closed: {gate['reason']}"
        lines.append(f"Queue: {answer['running']}/{answer['cap']} running, {answer['firePolicy']}, gate {state}")
    usage = answer.get("usage") or {}
    lines.append(
        f"Usage: five-hour {shown_percent(usage.get('fiveHour'))}, seven-day {shown_percent(usage.get('sevenDay'))}"
        + (" (stale)" if usage.get("stale") else "")
    )
    for problem in answer.get("problems") or []:
        lines.append(f"Problem: {problem}")
    jobs = answer.get("jobs") or []
    if not jobs:
        lines.append("No PRDs in prds/ yet.")
        return "\n".join(lines)
    width = max(len(job["slug"]) for job in jobs)
    lines.append("")
    lines.append(f"{'GROUP':>5}  {'STATUS':<10} {'SLUG':<{width}}  REASON")
    for job in jobs:
        reason = " · ".join(part for part in (job.get("waiting") or job.get("reason"), _session(job)) if part)
        lines.append(f"{job['group']:>5}  {job['status']:<10} {job['slug']:<{width}}  {reason}")
    return "\n".join(lines)


def _session(job: dict[str, Any]) -> str:
    """The earlier run whose agent session the job's run continues, or its next run will (as the window says it)."""
    current, resume = job.get("current") or {}, job.get("resume") or {}
    will_continue = resume.get("runId") if job.get("status") == "pending" else None
    return session_words(current.get("resumedFrom"), will_continue)


# ---------------------------------------------------------------- commands to the engine


def _send(home: Home, payload: dict[str, Any], done: str) -> int:
    from app.engine.control import EngineNotRunning, request_sync

    try:
        answer = request_sync(home.socket, payload)
    except EngineNotRunning:
        print(f"overnight: no engine is running for {home.root}; start one with `overnight` or "
              "`overnight run`", file=sys.stderr)
        return EXIT_ERROR
    if not answer.get("ok"):
        print(f"overnight: {answer.get('error')}", file=sys.stderr)
        return EXIT_ERROR
    print(done)
    return EXIT_OK


# ---------------------------------------------------------------- add


def _add(home: Home, args: argparse.Namespace) -> int:
    from app.engine.intake import Added, add_prds

    try:
        ensure_home(home)
    except OSError as exc:  # prds/ is a file, say: the engine would move it aside at its next start
        print(f"overnight: {home.root} cannot take PRDs: {exc} — start `overnight run` once to repair the "
              "home, then add again", file=sys.stderr)
        return EXIT_ERROR
    config = load_config(home.config).config
    code = EXIT_OK
    for result in add_prds(home, config, args.files, args.group):
        if isinstance(result, Added):
            print(f"added {result.source} → prds/{result.target.name} (group {result.group})")
        else:
            print(f"refused {result.reason}", file=sys.stderr)
            code = EXIT_ERROR
    return code


# ---------------------------------------------------------------- doctor


def _doctor(home: Home, args: argparse.Namespace) -> int:
    from app.doctor import probe_tray, run_checks

    if args.probe_tray:
        return probe_tray()

    checks = run_checks(home)
    for ok, line in checks:
        print(f"{'ok  ' if ok else 'FIX '} {line}")
    return EXIT_OK if all(ok for ok, _ in checks) else EXIT_ERROR


# ---------------------------------------------------------------- install-desktop


def _install_desktop(home: Home, args: argparse.Namespace) -> int:
    from app.desktop_entry import Places, install, launch_command, uninstall

    places = Places.for_user()
    if args.uninstall:
        said, ok = uninstall(places, autostart_only=args.autostart), True
    else:
        command = launch_command(sys.argv[0])
        if hasattr(args, "home"):
            command += ["--home", str(home.root)]
        said, ok = install(places, command, args.autostart)
    for line in said:
        print(line)
    return EXIT_OK if ok else EXIT_ERROR
