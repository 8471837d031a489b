"""What a failed job's investigation reads before it starts (app/engine/investigation_run.py): the
end of each run of the failed session, from the real log files (docs/BEHAVIOUR.md section 8)."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

from app.core.investigation import TRANSCRIPT_TAIL_CHARS
from app.core.outcome import OutcomeKind
from app.core.queue import Investigation, InvestigationStatus, LastRun, Status
from app.engine.investigation_run import InvestigationRun
from tests.support import write_prd
from tests.unit.core.factories import T0, job

from .harness import run
from .test_run_kinds import engine_with

DATA = Path(__file__).resolve().parents[2] / "data" / "cli-2.1.197"
BEFORE, CUT, AGAIN, FAILED = "20261122-003000-aaaaaa", "20261122-010000-bbbbbb", "20261122-030000-cccccc", \
    "20261122-040000-dddddd"


def _run(run_id, outcome, reason, resumed_from=None):
    return LastRun(run_id, outcome, 1, T0, 1000, None, None, reason, resumed_from=resumed_from)


def failed_job(resumed: bool):
    """07-login: a run before a re-run, then a session cut short by a usage limit, continued, cut short
    by a restart, continued, and failed at the turn limit (`resumed`), or that last run alone."""
    runs = (_run(BEFORE, OutcomeKind.FAILED, "exit 1"),
            _run(CUT, OutcomeKind.RATE_LIMITED, "usage limit reached; it continues where it stopped"),
            _run(AGAIN, OutcomeKind.FAILED, "interrupted by a restart; it continues where it stopped", CUT))
    last = _run(FAILED, OutcomeKind.FAILED, "stopped at the turn limit", AGAIN if resumed else None)
    waiting = Investigation(InvestigationStatus.WAITING, "07-fix-login", failed_run_id=FAILED)
    return job("07-login", Status.FAILED, title="Add login", last=last, earlier_runs=runs, investigation=waiting)


def engine_for(tmp_path, failed, logs):
    engine = engine_with(tmp_path, failed)
    write_prd(engine.home, "07-login.md", "Add a login page.")
    for run_id, data in logs.items():
        log = engine.home.run_files(run_id, "07-login").log
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(data)
    return engine


def captured(name):
    return (DATA / f"{name}.jsonl").read_bytes()


@run
async def test_a_resumed_jobs_investigation_reads_each_run_of_its_session_oldest_first(tmp_path):
    engine = engine_for(tmp_path, failed_job(resumed=True), {
        BEFORE: captured("success"), CUT: captured("rate_limited_subscription"),
        AGAIN: captured("session_before_resume"), FAILED: captured("error_max_turns")})
    prompt = (await InvestigationRun(engine, "07-login", FAILED).prompt()).decode()
    order = [prompt.index(text) for text in (
        f"## Run {CUT}", "You've hit your session limit",  # its own log, as text
        f"## Run {AGAIN}", "assistant: part 1 done",
        f"## Run {FAILED} — failed: stopped at the turn limit (the failed run)", "error_max_turns")]
    assert order == sorted(order)
    assert f"Full transcript: {engine.home.run_files(AGAIN, '07-login').log}" in prompt
    assert f"## Run {BEFORE}" not in prompt  # a run of another session


@run
async def test_a_pruned_runs_folder_reads_as_a_run_that_wrote_nothing(tmp_path):
    engine = engine_for(tmp_path, failed_job(resumed=True), {
        CUT: captured("rate_limited_subscription"), AGAIN: captured("session_before_resume"),
        FAILED: captured("error_max_turns")})
    shutil.rmtree(engine.home.run_dir(CUT))
    prompt = (await InvestigationRun(engine, "07-login", FAILED).prompt()).decode()
    cut = prompt[prompt.index(f"## Run {CUT}"):prompt.index(f"## Run {AGAIN}")]
    assert "(the run wrote nothing)" in cut
    assert "assistant: part 1 done" in prompt


@run
async def test_long_logs_of_a_resumed_session_stay_within_one_runs_budget_and_the_failed_run_shows_most(tmp_path):
    def long_log(words):
        line = {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": words}]}}
        return (json.dumps(line) + "\n").encode() * 20000  # ~2 MB
    engine = engine_for(tmp_path, failed_job(resumed=True), {
        CUT: long_log("cut short"), AGAIN: long_log("going on"), FAILED: long_log("failing")})
    prompt = (await InvestigationRun(engine, "07-login", FAILED).prompt()).decode()
    shown = {words: prompt.count(f"assistant: {words}\n") for words in ("cut short", "going on", "failing")}
    assert 0 < shown["cut short"] < shown["failing"] and 0 < shown["going on"] < shown["failing"]
    assert sum(len(f"assistant: {words}\n") * count for words, count in shown.items()) <= TRANSCRIPT_TAIL_CHARS


@run
async def test_a_job_that_was_never_resumed_gets_its_failed_runs_tail_alone(tmp_path):
    logs = {AGAIN: captured("session_before_resume"), FAILED: captured("error_max_turns")}
    engine = engine_for(tmp_path, failed_job(resumed=False), logs)
    prompt = (await InvestigationRun(engine, "07-login", FAILED).prompt()).decode()
    assert "# The end of its transcript\n<transcript>\n" in prompt and "error_max_turns" in prompt
    assert "## Run" not in prompt and "part 1 done" not in prompt
    engine.state = replace(engine.state, jobs={"07-login": replace(failed_job(resumed=False), earlier_runs=())})
    assert (await InvestigationRun(engine, "07-login", FAILED).prompt()).decode() == prompt
