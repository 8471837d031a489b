"""The morning report (docs/BEHAVIOUR.md section 14): what happened in a period, built from the
lines of history.jsonl and logs/heartbeat.jsonl, the runs' .meta.json records and the queue as it
is now. One JSON-ready object (`build`), and the same as Markdown (`to_markdown`). No I/O here:
the engine and the command line read the files and write the result.

A line that is not a JSON object with a readable `ts` (a truncated last line, a corrupt one) is
skipped and counted; the report says how many.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.batching import Waiting
from app.core.queue import Job, Status
from app.core.text import one_line, plain_names, pluralize
from app.core.times import iso_ms, parse_ts, timed_record

FIRST = ("failed", "needs_review")  # the sections the user reads first
RESULT_LINE = 300  # characters of the result text a section shows


NAME_FORMAT = "%Y-%m-%d-%H%M"  # a report's file name (UTC) without `.md`


def file_name(until: dt.datetime, taken: Collection[str] = ()) -> str:
    """`<YYYY-MM-DD-HHMM>.md`: when the report's period ended, in UTC; `-2`, `-3`… before `.md`
    when a report of the same minute is there already (none is overwritten)."""
    stem = f"{until.astimezone(dt.UTC):{NAME_FORMAT}}"
    name, number = f"{stem}.md", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}.md"
    return name


def time_of(name: str) -> dt.datetime | None:
    """When the report named `name` ended its period (to the minute), or None when it is not a
    report's name."""
    if not name.endswith(".md"):
        return None
    stem = name.removesuffix(".md")
    head, _, number = stem.rpartition("-")
    for text in (stem, head if number.isdigit() and len(number) < 4 else None):
        try:
            return dt.datetime.strptime(text, NAME_FORMAT).replace(tzinfo=dt.UTC) if text else None
        except ValueError:
            continue
    return None


PERIOD_ROW = "| Period |"  # the totals row with the period's exact times, read back by `period_end`


def period_end(markdown: str) -> dt.datetime | None:
    """The exact end of a report's period, from its Period row (None: not a report's text)."""
    for line in markdown.splitlines():
        if line.startswith(PERIOD_ROW):
            return parse_ts(line.rstrip(" |").split(" ")[-1])
    return None


@dataclass(slots=True)
class Lines:
    """The readable records of a file that fall in the period, and how many lines were not readable."""

    records: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0


def line_time(line: str) -> dt.datetime | None:
    """The `ts` of a JSON line, or None when the line is not a readable record."""
    record = timed_record(line)
    return record[0] if record is not None else None


def collect(lines: Iterable[str], since: dt.datetime, until: dt.datetime) -> Lines:
    """The records among `lines` with `since <= ts <= until` (memory bounded by the period)."""
    out = Lines()
    for line in lines:
        if not line.strip():
            continue
        record = timed_record(line)
        if record is None:
            out.unreadable += 1
        elif since <= record[0] <= until:
            out.records.append(record[1])
    return out


@dataclass(frozen=True, slots=True)
class Inputs:
    history: Lines
    heartbeat: Lines
    metas: Mapping[str, Mapping[str, Any]]  # a run's .meta.json by "<runId>/<slug>"
    jobs: Mapping[str, Job]
    waiting: Mapping[str, Waiting]  # batching.waiting_reasons for the queue as it is now


def meta_key(run_id: str, slug: str) -> str:
    return f"{run_id}/{slug}"


def job_runs(history: Lines) -> list[dict[str, Any]]:
    """The job runs that ended in the period (their history lines)."""
    return [r for r in history.records if r.get("event") == "run.finished" and r.get("kind") == "job"
            and isinstance(r.get("slug"), str)]


def build(inputs: Inputs, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """The report as one JSON-ready object: period, totals, a section per job whose run ended in
    the period (failed and needs_review first), and what is left."""
    sections = _sections(inputs)
    return {
        "since": iso_ms(since),
        "until": iso_ms(until),
        "totals": _totals(sections, inputs.heartbeat),
        "jobs": sections,
        "left": _left(inputs.jobs, inputs.waiting),
        "unreadableLines": inputs.history.unreadable + inputs.heartbeat.unreadable,
    }


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _sections(inputs: Inputs) -> list[dict[str, Any]]:
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for run in job_runs(inputs.history):
        by_slug.setdefault(run["slug"], []).append(run)
    plans = {r.get("slug"): r.get("fixPlan") for r in inputs.history.records
             if r.get("event") == "run.finished" and r.get("kind") == "investigation" and r.get("fixPlan")}
    sections = [_section(slug, runs, inputs, plans.get(slug)) for slug, runs in by_slug.items()]
    sections.sort(key=lambda s: (s["status"] not in FIRST, FIRST.index(s["status"]) if s["status"] in FIRST else 0,
                                 s["finishedAt"] or "", s["slug"]))
    return sections


def _section(slug: str, runs: Sequence[dict[str, Any]], inputs: Inputs, fix_plan: object) -> dict[str, Any]:
    last = runs[-1]
    meta = inputs.metas.get(meta_key(str(last.get("runId")), slug), {})
    job = inputs.jobs.get(slug)
    result = last.get("resultText") or meta.get("resultText")
    verify = last.get("verify")
    return {
        "slug": slug,
        "title": last.get("title") or (job.title if job else slug),
        "status": str(last.get("status")),
        "reason": str(last.get("reason") or ""),
        "runId": last.get("runId"),
        "finishedAt": last.get("finishedAt") or last.get("ts"),
        "runs": len(runs),
        "resumed": sum(1 for r in runs if r.get("resumedFrom")),  # runs that continued an interrupted session
        "durationMs": int(sum(_number(r.get("durationMs")) for r in runs)),
        "costUsd": sum(_number(r.get("costUsd")) for r in runs),
        "turns": int(sum(_number(r.get("numTurns")) for r in runs)),
        "resultText": result if isinstance(result, str) else None,
        "workspace": _workspace(last.get("workspace")),
        "verify": [{"cmd": str(c.get("cmd")), "exitCode": c.get("exitCode") if isinstance(c.get("exitCode"), int)
                    else None} for c in verify if isinstance(c, dict)] if isinstance(verify, list) else None,
        "fixPlan": fix_plan if isinstance(fix_plan, str) else None,
    }


def _workspace(value: object) -> dict[str, Any] | None:
    """A history line's worktree record with the types the report relies on (a hand-edited or
    damaged line cannot break the report)."""
    if not isinstance(value, dict):
        return None
    files = value.get("changedFiles")
    return {"branch": str(value.get("branch") or "unknown"), "mergeCommit": value.get("mergeCommit") or None,
            **{key: int(_number(value.get(key))) for key in ("files", "insertions", "deletions")},
            "changedFiles": [str(path) for path in files] if isinstance(files, list) else []}


def _totals(sections: Sequence[Mapping[str, Any]], heartbeat: Lines) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for section in sections:
        by_status[section["status"]] = by_status.get(section["status"], 0) + 1
    beats = heartbeat.records
    return {
        "jobs": len(sections),
        "runs": sum(s["runs"] for s in sections),
        "byStatus": by_status,
        "completed": by_status.get("completed", 0),
        "failed": by_status.get("failed", 0),
        "needs_review": by_status.get("needs_review", 0),
        "costUsd": round(sum(s["costUsd"] for s in sections), 6),
        "turns": sum(s["turns"] for s in sections),
        "agentMs": sum(s["durationMs"] for s in sections),
        "utilization": {
            "start": _usage(beats[0]) if beats else None,
            "end": _usage(beats[-1]) if beats else None,
        },
        "pauses": _pauses(beats),
    }


def _usage(beat: Mapping[str, Any]) -> dict[str, Any]:
    return {"ts": beat.get("ts"), "fiveHour": beat.get("fiveHour"), "sevenDay": beat.get("sevenDay")}


def _pauses(beats: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each stretch of heartbeats with the same pause reason: the reason, its start, its length
    (up to the first heartbeat without it, or the last one when it still lasts)."""
    pauses: list[dict[str, Any]] = []
    open_: dict[str, Any] | None = None
    for beat in beats:
        reason = beat.get("paused")
        if open_ is not None and reason != open_["reason"]:
            open_["endedAt"] = beat["ts"]
            open_ = None
        if reason and open_ is None:
            open_ = {"reason": str(reason), "since": beat["ts"], "endedAt": None}
            pauses.append(open_)
    if open_ is not None:
        open_["endedAt"] = beats[-1]["ts"]
        open_["lasting"] = True
    for pause in pauses:
        start, end = parse_ts(pause["since"]), parse_ts(pause["endedAt"])
        pause["durationMs"] = int((end - start).total_seconds() * 1000) if start and end else 0
        pause.setdefault("lasting", False)
    return pauses


def _left(jobs: Mapping[str, Job], waiting: Mapping[str, Waiting]) -> dict[str, Any]:
    pending = [{"slug": job.slug, "title": job.title,
                "why": waiting[job.slug].why if job.slug in waiting else "starts at the next scheduling pass"}
               for job in sorted(jobs.values(), key=lambda j: (j.group, j.slug)) if job.status is Status.PENDING]
    invalid = [{"slug": job.slug, "reason": job.reason}
               for job in sorted(jobs.values(), key=lambda j: j.slug) if job.status is Status.INVALID]
    return {"pending": pending, "invalid": invalid}


# ------------------------------------------------------------------ Markdown


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell: one line, no pipe breaking the row."""
    return one_line(str(value), 200).replace("|", "\\|")


def _said(reason: object) -> str:
    """The engine's reason for a person, in a cell: its internal names in words."""
    return _cell(plain_names(str(reason)))


def _duration(ms: int) -> str:
    minutes = round(ms / 60000)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _percent(value: object) -> str:
    return f"{_number(value):.0f}%" if value is not None else "unknown"


def _when(text: object) -> str:
    moment = parse_ts(text)
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def to_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown a code host and Qt's Markdown view both render: headings, tables,
    lists, no HTML."""
    totals = report["totals"]
    start = parse_ts(report["since"])
    whole = start is None or start.year == 1  # no previous report: everything on record
    period = f"up to {_when(report['until'])}" if whole else f"{_when(report['since'])} to {_when(report['until'])}"
    out = [f"# Overnight report, {period}", "", "## Totals", "",
           "| | |", "|---|---|", f"{PERIOD_ROW} {'everything' if whole else report['since']} to {report['until']} |"]
    counts = ", ".join(f"{count} {status}" for status, count in sorted(totals["byStatus"].items())) or "none"
    out += [f"| Jobs | {totals['jobs']} ({counts}) |", f"| Runs | {totals['runs']} |",
            f"| Cost | ${totals['costUsd']:.2f} |", f"| Turns | {totals['turns']} |",
            f"| Agent time | {_duration(totals['agentMs'])} |"]
    usage = totals["utilization"]
    for window, key in (("Five-hour", "fiveHour"), ("Seven-day", "sevenDay")):
        start, end = usage["start"], usage["end"]
        span = f"{_percent(start[key])} → {_percent(end[key])}" if start and end else "no heartbeat in the period"
        out.append(f"| {window} utilization | {span} |")
    out.append("")
    if totals["pauses"]:
        out += ["### Pauses", "", "| Reason | Since | For |", "|---|---|---|"]
        out += [f"| {_said(p['reason'])} | {_when(p['since'])} | {_duration(p['durationMs'])}"
                f"{' (still paused)' if p['lasting'] else ''} |" for p in totals["pauses"]]
        out.append("")
    if report["unreadableLines"]:
        out += [f"{pluralize(report['unreadableLines'], 'unreadable line')} skipped.", ""]
    out += ["## Jobs", ""]
    if not report["jobs"]:
        out += ["No run ended in this period.", ""]
    for section in report["jobs"]:
        out += _job_markdown(section)
    out += _left_markdown(report["left"])
    return "\n".join(out).rstrip() + "\n"


def _job_markdown(s: Mapping[str, Any]) -> list[str]:
    out = [f"### {_cell(s['title'])} ({s['slug']})", "", f"**{s['status']}**: {_said(s['reason'])}", "",
           f"- {_duration(s['durationMs'])}, ${s['costUsd']:.2f}, {pluralize(s['turns'], 'turn')}"
           f", {pluralize(s['runs'], 'run')}{_resumed(s)}, finished {_when(s['finishedAt'])}"]
    ws = s.get("workspace")
    if isinstance(ws, Mapping):
        merged = f"merged as `{ws.get('mergeCommit')}`" if ws.get("mergeCommit") else "not merged"
        out.append(f"- Branch `{ws.get('branch')}`, {merged}: {pluralize(int(_number(ws.get('files'))), 'file')}, "
                   f"+{int(_number(ws.get('insertions')))} −{int(_number(ws.get('deletions')))}")
        out += [f"  - `{path}`" for path in ws.get("changedFiles") or ()]
    for command in s.get("verify") or ():
        code = command.get("exitCode")
        out.append(f"- Verify `{command.get('cmd')}`: {'timed out' if code is None else f'exit {code}'}")
    if s.get("fixPlan"):
        out.append(f"- Fix plan written: {s['fixPlan']}")
    out.append("")
    if s.get("resultText"):
        out += [f"> {one_line(s['resultText'], RESULT_LINE)}", ""]
    return out


def _resumed(s: Mapping[str, Any]) -> str:
    resumed = int(_number(s.get("resumed")))
    return f" ({resumed} continuing its interrupted session)" if resumed else ""


def _left_markdown(left: Mapping[str, Any]) -> list[str]:
    out = ["## What is left", ""]
    if not left["pending"] and not left["invalid"]:
        return [*out, "Nothing is pending.", ""]
    if left["pending"]:
        out += ["| Pending | Why it waits |", "|---|---|"]
        out += [f"| {_cell(p['title'])} ({p['slug']}) | {_said(p['why'])} |" for p in left["pending"]]
        out.append("")
    if left["invalid"]:
        out += ["| Invalid PRD | Problem |", "|---|---|"]
        out += [f"| {p['slug']} | {_cell(p['reason'])} |" for p in left["invalid"]]
        out.append("")
    return out
