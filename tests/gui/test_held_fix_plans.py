"""A fix plan held for approval (`investigation.auto_run: false`) in the window: its own row,
awaiting approval, its PRD in the detail pane, and Approve or Discard from the Job menu."""

import pytest

from app.gui.tray import Tray
from tests.gui.test_main_window import RUN_TIMEOUT, status_in_table, wait_for_status
from tests.support import make_home, write_prd


@pytest.fixture
def gui_home(tmp_path):
    return make_home(tmp_path, {"investigation": {"auto_run": False}})


def held_plan_selected(qtbot, window):
    write_prd(window.home, "03-broken.md", "@fake max_turns\n", title="Broken")
    wait_for_status(qtbot, window, "03-fix-broken", "awaiting approval")
    window.queue_panel.select_slug("03-fix-broken")
    assert window.selected_slug == "03-fix-broken"


def enabled_job_actions(window):
    return {action.text() for action in window.job_menu.actions() if action.isEnabled() and action.text()}


def test_a_held_fix_plan_shows_awaiting_approval_with_its_prd_and_approve_runs_it(qtbot, window):
    held_plan_selected(qtbot, window)
    assert status_in_table(window, "03-broken") == "failed"
    qtbot.waitUntil(lambda: "the task ended without finishing" in window.detail.prd_view.toPlainText(),
                    timeout=5000)
    assert enabled_job_actions(window) >= {"Approve", "Discard"}
    assert not enabled_job_actions(window) & {"Run now", "Cancel", "Skip", "Archive"}

    window.user_actions["approve"].trigger()
    qtbot.waitUntil(lambda: (window.home.prds / "03-fix-broken.md").exists(), timeout=5000)
    wait_for_status(qtbot, window, "03-fix-broken", "completed", timeout=RUN_TIMEOUT)
    assert not (window.home.fix_plans / "03-fix-broken.md").exists()


def test_discard_puts_the_held_plan_aside_and_its_row_goes(qtbot, window):
    held_plan_selected(qtbot, window)
    window.user_actions["discard"].trigger()
    qtbot.waitUntil(lambda: window.queue_model.row_of("03-fix-broken") is None, timeout=5000)
    assert (window.home.fix_plans / "discarded" / "03-fix-broken.md").exists()
    window.queue_panel.select_slug("03-broken")
    assert "fix plan 03-fix-broken was discarded by the user" in window.detail.links.text()


@pytest.fixture
def notifications(bridge, window):
    """What the tray notifies, as (title, text); the tray lives until the test ends."""
    shown = []
    tray = Tray(bridge, window, notify=lambda title, text, _icon: shown.append((title, text)), group_ms=0)
    yield shown
    tray.deleteLater()


def test_the_tray_says_a_fix_plan_awaits_approval_not_that_it_is_queued(qtbot, bridge, notifications):
    write_prd(bridge.home, "03-broken.md", "@fake max_turns\n")
    qtbot.waitUntil(lambda: ("Fix plan awaiting approval",
                             "03-fix-broken.md was written for 03-broken; approve it to run it.") in notifications,
                    timeout=RUN_TIMEOUT)
    assert not any(title == "Fix plan written" for title, _text in notifications)
