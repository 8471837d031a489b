"""docs/BEHAVIOUR.md section 14: the morning report built from hand-made history and heartbeat lines."""

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from app.core import report
from app.core.batching import Waiting
from app.core.queue import Status

from .factories import T0, job, jobs

SINCE, UNTIL = T0, T0 + dt.timedelta(hours=8)


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def run_line(slug: str, status: str, minutes: float, cost: float = 0.5, turns: int = 3, **extra) -> str:
    record = {"ts": at(minutes), "event": "run.finished", "kind": "job", "slug": slug, "runId": f"r{minutes}",
              "outcome": "completed" if status != "failed" else "failed", "status": status,
              "reason": f"{slug} reason", "exitCode": 0, "finishedAt": at(minutes), "durationMs": 60_000,
              "costUsd": cost, "numTurns": turns, "title": f"Title of {slug}", **extra}
    return json.dumps(record)


def beat(minutes: float, five: float, seven: float, paused: str | None = None) -> str:
    return json.dumps({"ts": at(minutes), "counts": {}, "gate": "open", "paused": paused,
                       "fiveHour": five, "sevenDay": seven, "stale": False})


def build(history, heartbeat=(), queue=None, waiting=None, metas=None):
    inputs = report.Inputs(report.collect(history, SINCE, UNTIL), report.collect(heartbeat, SINCE, UNTIL),
                           metas or {}, queue or {}, waiting or {})
    return report.build(inputs, SINCE, UNTIL)


def test_failed_and_needs_review_jobs_come_first_with_what_they_did():
    history = [
        run_line("01-done", "completed", 10),
        run_line("02-review", "needs_review", 20),
        run_line("03-broken", "failed", 30, resultText="I could not find the tests",
                 verify=[{"cmd": "make test", "exitCode": 2}]),
        json.dumps({"ts": at(40), "event": "run.finished", "kind": "investigation", "slug": "03-broken",
                    "runId": "r30", "outcome": "completed", "reason": "", "fixPlan": "03-broken-fix"}),
    ]
    built = build(history)
    assert [s["slug"] for s in built["jobs"]] == ["03-broken", "02-review", "01-done"]
    broken = built["jobs"][0]
    assert broken["fixPlan"] == "03-broken-fix" and broken["verify"][0]["exitCode"] == 2
    text = report.to_markdown(built)
    assert "### Title of 03-broken (03-broken)" in text
    assert "- Verify `make test`: exit 2" in text
    assert "> I could not find the tests" in text
    assert "- Fix plan written: 03-broken-fix" in text
    assert text.index("03-broken") < text.index("02-review") < text.index("01-done")


def test_a_worktree_job_shows_its_branch_merge_commit_diffstat_and_files():
    workspace = {"branch": "overnight/01-feature", "mergeCommit": "abc1234", "files": 2, "insertions": 10,
                 "deletions": 3, "changedFiles": ["app/a.py", "tests/test_a.py"]}
    text = report.to_markdown(build([run_line("01-feature", "completed", 5, workspace=workspace)]))
    assert "- Branch `overnight/01-feature`, merged as `abc1234`: 2 files, +10 −3" in text
    assert "  - `app/a.py`" in text and "  - `tests/test_a.py`" in text


def test_a_job_whose_session_was_continued_says_how_many_of_its_runs_continued_it():
    history = [run_line("01-long", "pending", 10, outcome="rate_limited", sessionId="s1"),
               run_line("01-long", "pending", 70, outcome="rate_limited", sessionId="s1", resumedFrom="r10"),
               run_line("01-long", "completed", 130, sessionId="s1", resumedFrom="r70"),
               run_line("02-short", "completed", 140)]
    built = build(history)
    assert {s["slug"]: (s["runs"], s["resumed"]) for s in built["jobs"]} == {"01-long": (3, 2), "02-short": (1, 0)}
    text = report.to_markdown(built)
    assert ", 3 runs (2 continuing its interrupted session), finished" in text
    assert ", 1 run, finished" in text


def test_the_result_text_comes_from_the_runs_meta_when_the_history_line_lacks_it():
    history = [run_line("01-old", "completed", 5)]
    metas = {report.meta_key("r5", "01-old"): {"resultText": "All three endpoints added."}}
    assert build(history, metas=metas)["jobs"][0]["resultText"] == "All three endpoints added."


def test_utilization_at_start_and_end_and_pauses_with_their_length_come_from_the_heartbeat():
    beats = [beat(0, 10, 40), beat(1, 20, 41, "manual"), beat(31, 25, 42, "manual"), beat(61, 30, 43),
             beat(62, 95, 50, "rate_limit")]
    totals = build([], beats)["totals"]
    assert totals["utilization"]["start"]["fiveHour"] == 10 and totals["utilization"]["end"]["sevenDay"] == 50
    manual, limit = totals["pauses"]
    assert (manual["reason"], manual["durationMs"], manual["lasting"]) == ("manual", 60 * 60_000, False)
    assert limit["reason"] == "rate_limit" and limit["lasting"]
    text = report.to_markdown(build([], beats))
    assert "| Five-hour utilization | 10% → 95% |" in text
    assert "| manual | 2026-11-22 01:01 UTC | 1 h 00 min |" in text
    assert "| usage limit | 2026-11-22 02:02 UTC |" in text and "(still paused)" in text


def test_the_cli_s_and_the_engine_s_internal_names_read_as_words():
    history = [run_line("01-long", "failed", 10, reason="error_max_turns: Reached maximum number of turns (30)")]
    waiting = {"02-next": Waiting("the queue is paused: rate_limit")}
    text = report.to_markdown(build(history, queue=jobs(job("02-next")), waiting=waiting))
    assert "**failed**: stopped at the turn limit: Reached maximum number of turns (30)" in text
    assert "| the queue is paused: usage limit |" in text
    assert "error_max_turns" not in text and "rate_limit" not in text


def test_corrupt_and_truncated_lines_are_skipped_and_counted():
    history = [run_line("01-ok", "completed", 5), "{not json", '{"event": "run.finished", "ts": "yesterday"}',
               run_line("02-cut", "completed", 6)[:40]]
    built = build(history, [beat(0, 1, 2), '{"ts": "2026-11-22T01:00:00Z", "fiveHour"'])
    assert [s["slug"] for s in built["jobs"]] == ["01-ok"]
    assert built["unreadableLines"] == 4
    assert "4 unreadable lines skipped." in report.to_markdown(built)


def test_lines_outside_the_period_are_left_out():
    history = [json.dumps({**json.loads(run_line("01-before", "completed", 0)), "ts": "2026-11-21T23:00:00Z"}),
               run_line("02-in", "completed", 5)]
    assert [s["slug"] for s in build(history)["jobs"]] == ["02-in"]


def test_what_is_left_says_why_each_pending_job_waits_and_what_is_wrong_with_invalid_prds():
    queue = jobs(job("02-next"), job("03-later", depends_on=("02-next",)),
                 job("04-bad", Status.INVALID, reason="frontmatter: `group` must be a number"))
    built = build([], queue=queue, waiting={"03-later": Waiting("waiting for 02-next")})
    text = report.to_markdown(built)
    assert "| Title of" not in text
    assert "| 03-later (03-later) | waiting for 02-next |" in text
    assert "| 02-next (02-next) | starts at the next scheduling pass |" in text
    assert "| 04-bad | frontmatter: `group` must be a number |" in text


def test_a_quiet_period_says_so_and_the_json_is_one_object():
    built = build([])
    assert "No run ended in this period." in report.to_markdown(built)
    assert "Nothing is pending." in report.to_markdown(built)
    assert json.loads(json.dumps(built))["totals"]["runs"] == 0


def test_a_pipe_in_a_title_does_not_break_a_table_row():
    queue = jobs(job("01-a", title="a | b"))
    assert "| a \\| b (01-a) |" in report.to_markdown(build([], queue=queue))


def test_report_names_are_unique_and_read_back_as_the_periods_end():
    first = report.file_name(UNTIL)
    assert first == "2026-11-22-0900.md"
    second = report.file_name(UNTIL, {first})
    assert second == "2026-11-22-0900-2.md"
    assert report.time_of(first) == report.time_of(second) == UNTIL
    assert report.time_of("notes.md") is None and report.time_of("2026-11-22-0900.txt") is None


runs = st.lists(st.tuples(st.sampled_from(["01-a", "02-b", "03-c", "04-d"]),
                          st.sampled_from(["completed", "failed", "needs_review", "pending", "cancelled"]),
                          st.floats(0, 5, allow_nan=False), st.integers(0, 50), st.integers(0, 400)),
                max_size=12)


@given(runs)
def test_totals_equal_the_sum_of_the_sections(items):
    history = [run_line(slug, status, minute, cost, turns) for slug, status, cost, turns, minute in items]
    built = build(history)
    totals, sections = built["totals"], built["jobs"]
    assert totals["runs"] == sum(s["runs"] for s in sections) == len(items)
    assert abs(totals["costUsd"] - sum(s["costUsd"] for s in sections)) < 1e-6
    assert totals["turns"] == sum(s["turns"] for s in sections)
    assert totals["agentMs"] == sum(s["durationMs"] for s in sections)
    assert sum(totals["byStatus"].values()) == len(sections) == totals["jobs"]
    assert totals["failed"] == sum(1 for s in sections if s["status"] == "failed")


def test_a_reports_exact_period_end_is_read_back_from_its_text():
    text = report.to_markdown(build([]))
    assert report.period_end(text) == UNTIL
    assert report.period_end("# notes\n") is None


def test_a_readable_line_with_fields_of_the_wrong_kind_does_not_break_the_report():
    history = [run_line("01-odd", "completed", 5, workspace="branch?", verify="make", costUsd="free", numTurns=None),
               run_line("02-odd", "failed", 6, workspace={"files": "many", "changedFiles": "a.py"},
                        verify=[{"cmd": "make", "exitCode": "2"}, "junk"])]
    built = build(history)
    text = report.to_markdown(built)
    assert "### Title of 01-odd (01-odd)" in text and "$0.00" in text
    assert "- Branch `unknown`, not merged: 0 files, +0 −0" in text
    assert "- Verify `make`: timed out" in text
