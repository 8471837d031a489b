"""The queue model: row operations instead of resets, what each column says, sorting and filtering."""

import datetime as dt
from dataclasses import replace

from PySide6.QtCore import Qt

from app.core.gate import Closed
from app.core.prd import PrdError
from app.core.queue import Investigation, InvestigationStatus, LastRun, QueueState, Resume, Status
from app.engine.api import Snapshot
from app.gui.formatting import format_clock
from app.gui.queue_model import SLUG_ROLE, STATUS_FILTERS, Column, QueueModel, QueueProxy, StatusFilter
from tests.gui.recorder import Recorder
from tests.unit.core.factories import T0, job, jobs


def cell(model, slug, column):
    return model.index(model.row_of(slug), column).data()


def finished(slug, status=Status.COMPLETED, **last):
    values = {"run_id": "r1", "outcome": status.value, "exit_code": 0, "finished_at": T0, "duration_ms": 90_000,
              "cost_usd": 0.42, "num_turns": 7, "reason": "done"} | last
    return job(slug, status, last=LastRun(**values))


def test_a_stream_of_states_becomes_inserts_changes_and_removals_never_a_reset(qtmodeltester):
    model = QueueModel()
    recorder = Recorder(model)
    first = QueueState(jobs=jobs(job("01-a"), job("01-b"), job("02-c")))
    model.apply(Snapshot(first), list(first.jobs))
    assert recorder.take() == [("inserted", 0, 2)]
    qtmodeltester.check(model)

    second = QueueState(jobs={**first.jobs, "01-b": job("01-b", Status.RUNNING), "03-d": job("03-d")})
    model.apply(Snapshot(second), ["01-b", "03-d"])
    assert recorder.take() == [("inserted", 3, 3), ("changed", 1, 1)]
    assert cell(model, "01-b", Column.STATUS) == "running"

    third = QueueState(jobs={slug: j for slug, j in second.jobs.items() if slug not in ("01-a", "01-b")})
    model.apply(Snapshot(third), ["01-a", "01-b"])
    # With group 1 gone, what 02-c and 03-d wait for changes too.
    assert recorder.take() == [("removed", 0, 1), ("changed", 0, 1)]
    assert [cell(model, slug, Column.REASON) for slug in ("02-c", "03-d")] == ["", "waiting for group 2"]
    assert [model.index(row, Column.TITLE).data() for row in range(model.rowCount())] == ["02-c", "03-d"]
    qtmodeltester.check(model)


def test_only_the_rows_that_changed_are_announced(qtbot):
    model = QueueModel()
    state = QueueState(jobs=jobs(*(job(f"0{n}-job") for n in range(1, 6))))
    model.apply(Snapshot(state), list(state.jobs))
    recorder = Recorder(model)
    changed = {**state.jobs, "02-job": job("02-job", Status.SKIPPED), "04-job": job("04-job", Status.CANCELLED)}
    model.apply(Snapshot(QueueState(jobs=changed)), ["02-job", "04-job"])
    assert recorder.take() == [("changed", 1, 1), ("changed", 3, 3)]


def test_a_dependent_row_is_refreshed_when_what_it_waits_for_changes():
    model = QueueModel()
    state = QueueState(jobs=jobs(job("01-schema", Status.RUNNING), job("02-api", depends_on=("01-schema",))))
    model.apply(Snapshot(state), list(state.jobs))
    assert cell(model, "02-api", Column.REASON) == "waiting for 01-schema"
    recorder = Recorder(model)
    done = {**state.jobs, "01-schema": finished("01-schema")}
    model.apply(Snapshot(QueueState(jobs=done)), ["01-schema"])
    assert recorder.take() == [("changed", 0, 1)]
    assert cell(model, "02-api", Column.REASON) == ""


def test_an_invalid_job_shows_its_problem_and_fix_and_a_finished_one_its_numbers():
    error = PrdError("/home/prds/05-bad.md", 2, "parallelGroup is 'soon'", "use an integer, e.g. parallelGroup: 2")
    bad = replace(job("05-bad", Status.INVALID), error=error, reason=error.one_line())
    model = QueueModel()
    state = QueueState(jobs=jobs(bad, finished("01-done")))
    model.apply(Snapshot(state), list(state.jobs))
    assert cell(model, "05-bad", Column.REASON) == "parallelGroup is 'soon' — use an integer, e.g. parallelGroup: 2"
    tooltip = model.index(model.row_of("05-bad"), Column.REASON).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("/home/prds/05-bad.md:2: ")
    assert [cell(model, "01-done", column) for column in (Column.DURATION, Column.COST, Column.TURNS)] == [
        "1 min 30 s", "$0.42", "7"]
    assert model.index(0, Column.STATUS).data(Qt.ItemDataRole.DecorationRole) is not None


def test_a_running_job_shows_elapsed_time_and_eta_from_its_estimate():
    model = QueueModel()
    running = replace(job("01-long", Status.RUNNING), estimate_minutes=30)
    model.apply(Snapshot(QueueState(jobs=jobs(running))), ["01-long"])
    recorder = Recorder(model)
    model.refresh(T0.replace(minute=10))
    assert recorder.take() == [("changed", 0, 0)]
    assert cell(model, "01-long", Column.DURATION) == "10 min · ETA 20 min"


def test_the_proxy_sorts_by_group_then_slug_and_filters_by_text_and_status(qtmodeltester):
    model = QueueModel()
    state = QueueState(jobs=jobs(job("10-z"), job("02-b", Status.RUNNING), finished("02-a"),
                                 replace(job("01-x", Status.FAILED), reason="exited with code 3")))
    model.apply(Snapshot(state), list(state.jobs))
    proxy = QueueProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.GROUP, Qt.SortOrder.AscendingOrder)
    qtmodeltester.check(proxy)

    def shown():
        return [proxy.index(row, Column.TITLE).data() for row in range(proxy.rowCount())]

    assert shown() == ["01-x", "02-a", "02-b", "10-z"]
    proxy.set_text("CODE 3")
    assert shown() == ["01-x"]
    proxy.set_text("")
    proxy.set_statuses(STATUS_FILTERS[StatusFilter.ACTIVE])
    assert shown() == ["02-b", "10-z"]
    proxy.set_statuses(None)
    proxy.sort(Column.COST, Qt.SortOrder.AscendingOrder)
    assert shown()[0] == "02-a"  # the only one with a cost; empty values sort last
    model.apply(Snapshot(QueueState(jobs={**state.jobs, "00-new": job("00-new")})), ["00-new"])
    proxy.sort(Column.GROUP, Qt.SortOrder.AscendingOrder)
    assert shown()[0] == "00-new"
    qtmodeltester.check(proxy)


def test_a_held_fix_plan_is_a_row_awaiting_approval_until_it_becomes_its_job(qtmodeltester):
    plan = Investigation(InvestigationStatus.HELD, "01-fix-a", "run-1", plan_path="/h/fix-plans/01-fix-a.md")
    failed = job("01-a", Status.FAILED, investigation=plan, title="Add login")
    model = QueueModel()
    proxy = QueueProxy()
    proxy.setSourceModel(model)
    state = QueueState(jobs=jobs(failed, job("02-b", Status.COMPLETED)))
    model.apply(Snapshot(state), list(state.jobs))
    qtmodeltester.check(model)
    assert cell(model, "01-fix-a", Column.STATUS) == "awaiting approval"
    assert cell(model, "01-fix-a", Column.TITLE) == "Fix: Add login  (01-fix-a)"
    assert "awaiting approval" in cell(model, "01-fix-a", Column.REASON)
    proxy.set_statuses(STATUS_FILTERS[StatusFilter.ACTIVE])  # it waits, for the user
    assert [proxy.index(row, Column.GROUP).data(SLUG_ROLE) for row in range(proxy.rowCount())] == ["01-fix-a"]

    recorder = Recorder(model)
    approved = {**state.jobs, "01-a": replace(failed, investigation=replace(
        plan, status=InvestigationStatus.WROTE_FIX_PLAN, plan_path=None)), "01-fix-a": job("01-fix-a")}
    model.apply(Snapshot(QueueState(jobs=approved)), ["01-a", "01-fix-a"])
    assert ("reset",) not in recorder.take() and not model.is_held("01-fix-a")
    assert cell(model, "01-fix-a", Column.STATUS) == "pending"
    model.apply(Snapshot(QueueState(jobs=jobs(failed))), ["02-b"])
    assert model.is_held("01-fix-a") and cell(model, "01-fix-a", Column.STATUS) == "awaiting approval"


def test_a_waiting_job_says_why_and_when_it_is_expected_to_start():
    now = dt.datetime.now(dt.UTC)
    resets = now + dt.timedelta(hours=1, minutes=12)
    queue = jobs(job("01-user-table"), job("01-api", depends_on=("01-user-table",)), job("02-ui"))
    model = QueueModel()
    model.refresh(now)
    model.apply(Snapshot(QueueState(jobs=queue), cap=4, gate=Closed("usage", "five-hour usage 95 % ≥ 90 %", resets)),
                list(queue))
    assert cell(model, "01-user-table", Column.REASON) == (
        f"waiting: five-hour usage 95 % ≥ 90 % · expected {format_clock(resets, now)}")
    assert cell(model, "01-api", Column.REASON) == "waiting for 01-user-table"
    assert cell(model, "02-ui", Column.REASON) == "waiting for group 1"
    recorder = Recorder(model)
    model.apply(Snapshot(QueueState(jobs=queue), cap=4), [])  # usage fell under the threshold
    assert recorder.take() == [("changed", model.row_of("01-user-table"), model.row_of("01-user-table"))]
    assert cell(model, "01-user-table", Column.REASON) == ""


def test_a_finished_job_s_reason_reads_in_plain_words():
    reason = "error_max_turns: reached 30 turns; usage limit reached (five_hour)"
    model = QueueModel()
    failed = replace(finished("01-b", Status.FAILED), reason=reason)
    model.apply(Snapshot(QueueState(jobs=jobs(failed))), ["01-b"])
    assert cell(model, "01-b", Column.REASON) == (
        "stopped at the turn limit: reached 30 turns; usage limit reached (five-hour)")


def test_a_run_that_continues_an_earlier_runs_session_says_so_and_so_does_a_job_that_will():
    resumed = job("01-a", Status.RUNNING)
    resumed = replace(resumed, current=replace(resumed.current, resumed_from="20261203-101500-abc123"))
    resume = Resume("20261203-090000-def456", "session-1", "usage limit reached")
    waiting = job("01-b", reason="usage limit reached; it continues where it stopped", resume=resume)
    skipped = job("01-c", Status.SKIPPED, reason="skipped by the user", resume=resume)  # it will not run
    model = QueueModel()
    state = QueueState(jobs=jobs(resumed, waiting, skipped, job("01-d", Status.RUNNING)))
    model.apply(Snapshot(state), list(state.jobs))
    assert cell(model, "01-a", Column.REASON) == "resumed from run 20261203-101500-abc123"
    assert cell(model, "01-b", Column.REASON).endswith(" · will continue run 20261203-090000-def456's session")
    assert cell(model, "01-c", Column.REASON) == "skipped by the user"
    assert cell(model, "01-d", Column.REASON) == ""
