"""The main window fits an 800 px wide screen in every state: long words shorten or move to
tooltips, and the Resume button stays inside the window."""

import datetime as dt
from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QRect

from app.core.gate import Closed, rate_limit_pause
from app.core.outcome import OutcomeKind
from app.core.queue import LastRun, PrdError, QueueState, Status
from app.core.usage import Usage, Window
from app.engine.api import Snapshot
from tests.unit.core.factories import job

NOW = dt.datetime.now(dt.UTC)
LONG_TITLE = "Move every user table to the new schema and keep the old one readable until the cut-over " * 2
LONG_SLUG = "07-move-every-user-table-to-the-new-schema-and-keep-the-old-one-readable"
PAUSE = replace(rate_limit_pause(NOW + dt.timedelta(minutes=22), "five_hour", 720, NOW),
                message="five-hour limit reached; the Claude CLI said: " + "you have hit your limit, " * 12)
ERROR = PrdError(f"/home/me/.overnight/prds/{LONG_SLUG}.md", 3,
                 "parallelGroup is 'after-the-schema-migration-has-finished-everywhere'",
                 "use a whole number, e.g. parallelGroup: 2, or remove the line to use the filename's prefix")


def running_job():
    return job(LONG_SLUG, Status.RUNNING, title=LONG_TITLE, estimate_minutes=90)


def resumed_job():
    """Running the third run of one agent session: the transcript chooser lists each run with its ids."""
    first = LastRun("20261203-101500-abc123", OutcomeKind.RATE_LIMITED, 1, NOW, 1000, None, None, "usage limit")
    second = replace(first, run_id="20261203-120000-def456", outcome=OutcomeKind.FAILED, resumed_from=first.run_id)
    running = replace(running_job(), last=second, earlier_runs=(first,))
    return replace(running, current=replace(running.current, run_id="20261203-140000-0a1b2c",
                                            resumed_from=second.run_id))


def invalid_job():
    return replace(job("08-broken", Status.INVALID, title=LONG_TITLE), error=ERROR, reason=ERROR.one_line())


def snapshot(config, *jobs, paused=None, usage=None, problems=(), gate=None):
    state = QueueState(jobs={item.slug: item for item in jobs}, paused=paused, usage=usage or Usage())
    return Snapshot(state, config, 4, gate or Closed("usage", "five-hour usage 95 % ≥ 90 %", NOW), problems)


STALE = Usage(Window(96.0, NOW + dt.timedelta(hours=4, minutes=59)), Window(99.0, NOW + dt.timedelta(days=6)),
              polled_at=NOW - dt.timedelta(hours=2), stale=True)
PROBLEMS = ("config.yaml: concurrency_cap is 'many' — use a whole number from 1 to 16, e.g. concurrency_cap: 4",
            "OVERNIGHT_CONCURRENCY is 'lots' — unset it or make it a whole number")
STATES = {
    "idle": lambda config: snapshot(config),
    "running": lambda config: snapshot(config, running_job()),
    "running a resumed session": lambda config: snapshot(config, resumed_job()),
    "paused with a long message and a resume time": lambda config: snapshot(
        config, running_job(), paused=PAUSE, gate=Closed("paused", PAUSE.message, PAUSE.resume_at)),
    "config problems": lambda config: snapshot(config, problems=PROBLEMS),
    "stale meter": lambda config: snapshot(config, usage=STALE),
    "everything at once": lambda config: snapshot(
        config, running_job(), invalid_job(), paused=PAUSE, usage=STALE, problems=PROBLEMS,
        gate=Closed("paused", PAUSE.message, PAUSE.resume_at)),
}


def show(qtbot, window, state):
    window.bridge.stateChanged.emit(state, list(state.state.jobs))
    qtbot.waitUntil(lambda: window.queue_model.rowCount() == len(state.state.jobs), timeout=5000)


@pytest.mark.parametrize("name", list(STATES))
@pytest.mark.parametrize("selected", [None, LONG_SLUG, "08-broken"])
def test_the_window_needs_at_most_800_px_in_every_state(qtbot, idle_window, name, selected):
    state = STATES[name](idle_window.bridge.config)
    if selected == "08-broken":
        state = replace(state, state=replace(state.state, jobs={**state.state.jobs, "08-broken": invalid_job()}))
    show(qtbot, idle_window, state)
    if selected is not None and selected in state.state.jobs:
        idle_window.queue_panel.select_slug(selected)
        qtbot.waitUntil(lambda: idle_window.detail.job is not None, timeout=5000)
    assert idle_window.minimumSizeHint().width() <= 800


def test_at_800_by_600_the_paused_window_shows_the_whole_resume_button(qtbot, idle_window):
    show(qtbot, idle_window, STATES["everything at once"](idle_window.bridge.config))
    idle_window.queue_panel.select_slug("08-broken")
    idle_window.resize(800, 600)
    qtbot.waitUntil(lambda: idle_window.width() == 800, timeout=5000)
    button = idle_window.pause_banner.resume_button
    qtbot.waitUntil(button.isVisible, timeout=5000)
    where = QRect(button.mapTo(idle_window, QPoint(0, 0)), button.size())
    assert idle_window.rect().contains(where), (where, idle_window.rect())
    assert idle_window.pause_banner.message.text().startswith("Paused: usage limit")


def test_the_set_up_checklist_and_the_first_run_note_fit_in_800_px_too(qtbot, idle_window):
    long_path = "/home/someone/.local/share/a-rather-deeply/nested/folder/for/node/modules/.bin/claude-code-cli"
    show(qtbot, idle_window, STATES["everything at once"](idle_window.bridge.config))
    idle_window.setup_banner._checked([(False, f"agent: {long_path!r} is not found (not on PATH, and not an "
                                              "executable file) — install Claude Code: npm install -g "
                                              "@anthropic-ai/claude-code, or set agent.command in Settings"),
                                       (False, "credentials: none found (/root/.claude/.credentials.json)")], None)
    idle_window.show()
    qtbot.waitUntil(lambda: idle_window.setup_banner.isVisible() and idle_window.safety_note.isVisible(), timeout=5000)
    assert idle_window.minimumSizeHint().width() <= 800
