"""What each kind of run supplies to the one run lifecycle (app/engine/run_kinds.py): its files,
its marker, its model, its limits and how its record begins (docs/ARCHITECTURE.md, "Adding a run
kind"). The lifecycle itself is tested in test_runs.py."""

from dataclasses import replace

from app.core.outcome import OutcomeKind
from app.core.queue import Investigation, InvestigationStatus, LastRun, QueueState, Status
from app.engine.engine import Engine
from app.engine.investigation_run import InvestigationRun
from app.engine.run_kinds import JobRun
from tests.support import make_home
from tests.unit.core.factories import T0, job


def engine_with(tmp_path, *rows) -> Engine:
    home, environ, _ = make_home(tmp_path)
    engine = Engine(home, environ=environ)
    engine.state = QueueState(jobs={row.slug: row for row in rows})
    return engine


WAITING = Investigation(InvestigationStatus.WAITING, "01-fix-a", failed_run_id="run-1")
LAST = LastRun("run-1", OutcomeKind.FAILED, 1, T0, 1000, None, None, "exited with code 1")
FAILED = replace(job("01-a", Status.FAILED, investigation=WAITING, last=LAST), model="")  # no model of its own


def test_a_job_and_its_investigation_write_apart_in_the_failed_runs_folder_with_their_own_markers(tmp_path):
    engine = engine_with(tmp_path, FAILED)
    job_run, investigation = JobRun(engine, "01-a", "run-1"), InvestigationRun(engine, "01-a", "run-1")
    assert job_run.files.log == engine.home.run_dir("run-1") / "01-a.jsonl"
    assert investigation.files.log == engine.home.run_dir("run-1") / "01-a.investigation.jsonl"
    assert job_run.marker != investigation.marker


def test_a_job_runs_on_its_own_model_or_the_default_and_an_investigation_on_the_investigators(tmp_path):
    engine = engine_with(tmp_path, FAILED, replace(job("02-b"), model="haiku"))
    assert JobRun(engine, "02-b", "r").model() == "haiku"
    assert JobRun(engine, "01-a", "r").model() == engine.config.agent.model
    assert InvestigationRun(engine, "01-a", "run-1").model() == engine.config.investigation.model


def test_an_investigation_is_held_to_its_own_time_limit(tmp_path):
    engine = engine_with(tmp_path, FAILED)
    engine.config = replace(engine.config, investigation=replace(engine.config.investigation, max_duration=60))
    assert InvestigationRun(engine, "01-a", "run-1").limits().max_duration == 60
    assert JobRun(engine, "01-a", "r").limits().max_duration == engine.config.watchdog.max_duration


def test_beginning_records_the_run_with_the_log_it_will_write(tmp_path):
    pending = job("02-b")
    engine = engine_with(tmp_path, FAILED, pending)
    started = JobRun(engine, "02-b", "run-2").begin(pending, T0)
    assert started.status is Status.RUNNING and started.current.run_id == "run-2"
    assert started.current.log_path == str(engine.home.run_files("run-2", "02-b").log)
    investigating = InvestigationRun(engine, "01-a", "run-1").begin(FAILED, T0)
    assert investigating.investigation.status is InvestigationStatus.RUNNING
    investigation_log = engine.home.run_files("run-1", "01-a", investigation=True).log
    assert investigating.investigation.log_path == str(investigation_log)


def test_an_investigation_no_longer_waiting_does_not_begin_again(tmp_path):
    running = replace(FAILED, investigation=replace(WAITING, status=InvestigationStatus.RUNNING))
    engine = engine_with(tmp_path, running)
    assert InvestigationRun(engine, "01-a", "run-1").begin(running, T0) is None
