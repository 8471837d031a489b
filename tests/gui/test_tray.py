"""The tray: its icon and tooltip follow the queue, its menu steers it, and it tells the user what needs them."""

import contextlib
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from app.core.event_names import EventName
from app.core.outcome import OutcomeKind
from app.core.queue import LastRun, QueueState, Status
from app.engine.api import EngineEvent, Snapshot
from app.gui.bridge import EngineBridge
from app.gui.formatting import format_clock
from app.gui.icons import TrayLook, TrayState
from app.gui.main_window import MainWindow
from app.gui.tray import Tray
from tests.fakes.anthropic import FakeAnthropic
from tests.support import make_home, write_prd
from tests.unit.core.factories import job, jobs

SLEEPER = "@fake sleep 30\n"
# The offscreen platform cannot raise a window or pass size hints to a window manager.
OFFSCREEN_LIMITS = "This plugin does not support (raise|propagateSizeHints)"


def main_window(qtbot, bridge):
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    return window


@pytest.fixture
def window(qtbot, bridge):
    return main_window(qtbot, bridge)


@pytest.fixture
def notifications():
    return []


@pytest.fixture
def tray(bridge, window, notifications):
    return Tray(bridge, window, notify=lambda title, text, _icon: notifications.append((title, text)), group_ms=0)


def menu_texts(tray):
    menu = tray.menu()
    menu.aboutToShow.emit()
    return [action.text() for action in menu.actions()]


def trigger(tray, text):
    menu = tray.menu()
    menu.aboutToShow.emit()
    next(action for action in menu.actions() if action.text() == text).trigger()


def icon_image(tray):
    return tray.icon().pixmap(22, 22).toImage()


@contextlib.contextmanager
def own_bridge(qtbot, home, environ):
    """An engine on a home the test set up itself; started by `start`, once the tray listens, as the app does."""
    bridge = EngineBridge(home, environ=environ)
    try:
        yield bridge
    finally:
        with qtbot.waitSignal(bridge.stopped, timeout=30000):
            bridge.stop(stop_jobs=True)
        assert bridge.wait(10)


def start(qtbot, bridge):
    with qtbot.waitSignal(bridge.ready, timeout=20000):
        bridge.start()


def signed_in(environ, fake):
    """Claude Code credentials in the engine's HOME, and the usage meter pointed at the fake."""
    claude = Path(environ["HOME"]) / ".claude"
    claude.mkdir(parents=True)
    expires = int((time.time() + 86400) * 1000)
    (claude / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": "token", "expiresAt": expires}}))
    environ["OVERNIGHT_USAGE_URL"] = fake.usage_url


def test_the_icon_shows_running_jobs_with_a_count_and_then_the_pause(qtbot, bridge, tray):
    assert tray.look == TrayLook(TrayState.IDLE)
    idle = icon_image(tray)
    write_prd(bridge.home, "01-first.md", SLEEPER)
    write_prd(bridge.home, "01-second.md", SLEEPER)
    qtbot.waitUntil(lambda: tray.look == TrayLook(TrayState.RUNNING, 2), timeout=15000)
    running = icon_image(tray)
    assert running != idle
    assert "2 running · 0 pending · 0 failed" in tray.tooltip()

    bridge.command({"cmd": "pause", "reason": "lunch"})
    qtbot.waitUntil(lambda: tray.look == TrayLook(TrayState.PAUSED, 2), timeout=5000)
    assert icon_image(tray) not in (idle, running)
    assert "paused (by you)" in tray.tooltip()


def test_the_tooltip_shows_the_usage_meter(qtbot, tmp_path):
    home, environ, _project = make_home(tmp_path / "metered")
    with FakeAnthropic() as fake:
        fake.set_usage(five_hour=42.0, seven_day=17.0)
        signed_in(environ, fake)
        with own_bridge(qtbot, home, environ) as bridge:
            tray = Tray(bridge, main_window(qtbot, bridge), notify=lambda *_: None)
            start(qtbot, bridge)
            qtbot.waitUntil(lambda: "5-hour 42% · 7-day 17%" in tray.tooltip(), timeout=10000)


def test_an_invalid_config_turns_the_icon_to_error_with_the_problem_in_the_tooltip(qtbot, tmp_path):
    home, environ, _project = make_home(tmp_path / "misconfigured", {"concurrency_cap": "lots"})
    with own_bridge(qtbot, home, environ) as bridge:
        tray = Tray(bridge, main_window(qtbot, bridge), notify=lambda *_: None)
        start(qtbot, bridge)
        qtbot.waitUntil(lambda: tray.look.state is TrayState.ERROR, timeout=5000)
        assert "concurrency_cap" in tray.tooltip()


def test_the_menu_pauses_and_resumes_and_its_entry_follows_the_state(qtbot, bridge, window, tray, notifications):
    assert menu_texts(tray) == ["0 running · 0 pending · 0 failed", "", "Show Overnight", "New PRD…", "Pause",
                                "Start next batch now", "Open folder", "Settings…", "", "Quit"]

    trigger(tray, "Pause")
    qtbot.waitUntil(lambda: bridge.state.paused is not None and window.pause_banner.isVisibleTo(window), timeout=5000)
    assert tray.look.state is TrayState.PAUSED
    assert "Resume" in menu_texts(tray) and "Pause" not in menu_texts(tray)
    assert notifications == []  # the user paused it: no need to say so

    trigger(tray, "Resume")
    qtbot.waitUntil(lambda: bridge.state.paused is None and not window.pause_banner.isVisibleTo(window), timeout=5000)
    assert "Pause" in menu_texts(tray)


def test_force_tick_from_the_menu_starts_a_job_the_manual_policy_holds(qtbot, tmp_path):
    home, environ, _project = make_home(tmp_path / "manual", {"fire_policy": "manual"})
    with own_bridge(qtbot, home, environ) as bridge:
        tray = Tray(bridge, main_window(qtbot, bridge), notify=lambda *_: None)
        start(qtbot, bridge)
        write_prd(home, "01-held.md", '@fake text "hi"\n')
        qtbot.waitUntil(lambda: "01-held" in bridge.state.jobs, timeout=10000)
        assert "0 running · 1 pending · 0 failed" in menu_texts(tray)
        trigger(tray, "Start next batch now")
        qtbot.waitUntil(lambda: bridge.state.jobs["01-held"].status is Status.COMPLETED, timeout=15000)


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
def test_a_failed_job_is_notified_and_shown_in_the_icon_until_the_user_looks(
        qtbot, bridge, window, tray, notifications):
    write_prd(bridge.home, "01-broken.md", "@fake max_turns\n")
    qtbot.waitUntil(lambda: any(title == "Job failed: 01-broken" for title, _ in notifications), timeout=15000)
    assert tray.look.state is TrayState.ERROR
    assert "1 job failed since you last looked" in tray.tooltip()
    failure = next(text for title, text in notifications if title == "Job failed: 01-broken")
    assert "stopped at the turn limit" in failure and "error_max_turns" not in failure

    qtbot.waitUntil(lambda: ("Fix plan written", "01-fix-broken.md was written for 01-broken and is queued.")
                    in notifications, timeout=15000)
    qtbot.waitUntil(lambda: any(title == "Queue finished" for title, _ in notifications), timeout=15000)
    assert ("Queue finished", "Nothing left to run: 1 completed, 1 failed.") in notifications

    tray.show_window()
    assert window.isVisible()
    assert tray.look.state is TrayState.IDLE


def test_a_usage_limit_pause_is_notified_with_its_resume_time(qtbot, bridge, tray, notifications):
    write_prd(bridge.home, "01-limited.md", '@fake ratelimit {"reset_in": 3600}\n')
    qtbot.waitUntil(lambda: any(title.startswith("Queue paused until ") for title, _ in notifications),
                    timeout=15000)
    title, text = next((title, text) for title, text in notifications if title.startswith("Queue paused"))
    assert "limit reached" in text
    # Times on the user's clock, as the window shows them: never the engine's UTC.
    qtbot.waitUntil(lambda: bridge.state.paused is not None, timeout=5000)
    resume_at, now = bridge.state.paused.resume_at, dt.datetime.now(dt.UTC)
    # The day the title was written on or today's, should midnight have passed meanwhile.
    assert title in {f"Queue paused until {format_clock(resume_at, moment)}" for moment in (now - dt.timedelta(
        seconds=30), now)}
    assert "UTC" not in text
    qtbot.waitUntil(lambda: tray.look.state is TrayState.PAUSED, timeout=5000)
    until = title.removeprefix("Queue paused ")
    assert until in tray.tooltip()
    assert any(text.startswith("Paused (") and text.endswith(until) for text in menu_texts(tray))


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
def test_a_failure_while_paused_shows_both_until_the_user_looks(qtbot, bridge, window, tray, notifications):
    write_prd(bridge.home, "01-broken.md", "@fake sleep 1\n@fake max_turns\n")
    qtbot.waitUntil(lambda: tray.look.state is TrayState.RUNNING, timeout=15000)
    paused = icon_image(tray)
    trigger(tray, "Pause")
    qtbot.waitUntil(lambda: tray.look.state is TrayState.PAUSED, timeout=5000)
    qtbot.waitUntil(lambda: any(title == "Job failed: 01-broken" for title, _ in notifications), timeout=15000)
    qtbot.waitUntil(lambda: tray.look.state is TrayState.PAUSED and tray.look.failed, timeout=5000)
    assert "1 job failed since you last looked" in tray.tooltip()
    assert "paused (by you)" in tray.tooltip()
    assert icon_image(tray) != paused

    tray.show_window()
    assert tray.look.state is TrayState.PAUSED and not tray.look.failed


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
def test_an_invalid_prd_is_notified_counted_and_named_when_the_queue_finishes(
        qtbot, bridge, window, tray, notifications):
    write_prd(bridge.home, "01-bad.md", '---\ntitle: "Fix login\nmodel: sonnet\n---\nDo it.\n')
    qtbot.waitUntil(lambda: any(title == "PRD needs fixing: 01-bad" for title, _ in notifications), timeout=15000)
    text = next(text for title, text in notifications if title == "PRD needs fixing: 01-bad")
    assert "01-bad.md:2:" in text and "closing quote" in text
    assert "1 PRD needs fixing" in tray.tooltip()
    assert "1 PRD needs fixing" in menu_texts(tray)
    trigger(tray, "1 PRD needs fixing")
    assert window.isVisible() and window.selected_slug == "01-bad"
    assert window.detail.edit_prd.isVisible()

    write_prd(bridge.home, "02-good.md", '@fake sleep 1\n@fake text "done"\n')
    qtbot.waitUntil(lambda: any(title == "Queue finished" for title, _ in notifications), timeout=15000)
    assert ("Queue finished", "1 completed, 0 failed; 1 invalid PRD waiting for a fix.") in notifications
    assert [title for title, _ in notifications].count("PRD needs fixing: 01-bad") == 1


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
@pytest.mark.parametrize(("entry", "dialog_name"), [("New PRD…", "NewPrdDialog"), ("Settings…", "SettingsDialog")])
def test_new_prd_and_settings_from_the_menu_open_the_window_and_its_dialog(qtbot, window, tray, entry, dialog_name):
    window.hide()
    trigger(tray, entry)
    assert window.isVisible()
    qtbot.waitUntil(lambda: any(type(child).__name__ == dialog_name and child.isVisible()
                                for child in window.children()), timeout=5000)


def test_the_counts_say_how_many_jobs_need_review(qtbot, idle_window):
    bridge = idle_window.bridge
    tray = Tray(bridge, idle_window, notify=lambda *_args: None)
    assert "to review" not in tray.tooltip()
    bridge.snapshot = Snapshot(QueueState(jobs=jobs(job("01-a", Status.NEEDS_REVIEW), job("01-b", Status.FAILED))))
    bridge.stateChanged.emit(bridge.snapshot, ["01-a", "01-b"])
    assert "0 running · 0 pending · 1 failed · 1 to review" in tray.tooltip()


def failed_job(slug):
    last = LastRun(run_id=f"run-{slug}", outcome=OutcomeKind.FAILED, exit_code=1,
                   finished_at=dt.datetime.now(dt.UTC), duration_ms=1000, cost_usd=0.1, num_turns=2,
                   reason="the agent gave up")
    return job(slug, Status.FAILED, last=last)


def test_events_close_together_become_one_notification_and_its_click_opens_the_report(qtbot, idle_window):
    bridge = idle_window.bridge
    shown = []
    tray = Tray(bridge, idle_window, notify=lambda title, text, icon: shown.append((title, text, icon)))
    bridge.snapshot = Snapshot(QueueState(jobs=jobs(failed_job("01-a"), failed_job("01-b"))))
    bridge.stateChanged.emit(bridge.snapshot, ["01-a", "01-b"])
    bridge.engineEvent.emit(EngineEvent(EventName.INVESTIGATION_FINISHED, dt.datetime.now(dt.UTC),
                                        {"slug": "01-a", "fixPlan": "01-fix-a"}))
    assert shown == []  # held back a moment, for what comes with them
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    title, text, icon = shown[0]
    assert title == "2 failed, 1 fix plan written"
    assert text.splitlines() == ["Job failed: 01-a", "Job failed: 01-b", "Fix plan written"]
    assert icon is QSystemTrayIcon.MessageIcon.Critical

    home = bridge.home
    home.reports.mkdir()
    (home.reports / "2026-12-01-0300.md").write_text("# Earlier report\n")
    (home.reports / "2026-12-03-0615.md").write_text("# Overnight report\n\n3 runs completed.\n")
    bridge.snapshot = Snapshot(QueueState(jobs=jobs(job("02-c", Status.RUNNING))))
    bridge.stateChanged.emit(bridge.snapshot, ["02-c"])
    bridge.snapshot = Snapshot(QueueState(jobs=jobs(job("02-c", Status.COMPLETED))))
    bridge.stateChanged.emit(bridge.snapshot, ["02-c"])
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
    assert shown[1][0] == "Queue finished"  # alone in its moment: as it is
    tray.findChild(QSystemTrayIcon).messageClicked.emit()
    qtbot.waitUntil(lambda: idle_window.views.report is not None
                    and "3 runs completed." in idle_window.views.report.page.toPlainText(), timeout=5000)
    assert idle_window.isVisible()
