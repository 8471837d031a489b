"""The main window's actions: which job actions apply to a job, and where the actions are shown."""

from PySide6.QtWidgets import QMainWindow, QToolBar

from app.core.queue import Status
from app.gui.user_actions import JOB_ACTIONS, add_menus, add_toolbar, applicable_actions, make_actions, show_paused
from tests.unit.core.factories import job


def test_job_actions_apply_only_where_they_make_sense():
    assert applicable_actions(job("01-a"), has_log=False) == {"run", "cancel", "skip", "open_prd", "reveal", "archive"}
    assert applicable_actions(job("01-a", Status.RUNNING), has_log=True) == {"cancel", "open_log", "open_prd",
                                                                             "reveal"}
    assert applicable_actions(job("01-a", Status.FAILED), has_log=True) == {
        "reset", "skip", "rerun", "open_log", "open_prd", "reveal", "archive"}
    assert applicable_actions(job("01-a", Status.INVALID), has_log=False) == {"open_prd", "reveal", "archive"}
    assert applicable_actions(job("01-a", Status.NEEDS_REVIEW), has_log=True) == {
        "reset", "rerun", "accept", "merge", "discard", "open_log", "open_prd", "reveal", "archive"}


def test_accept_merge_and_discard_apply_only_to_a_job_that_needs_review():
    review = {"accept", "merge", "discard"}
    for status in Status:
        if status is not Status.NEEDS_REVIEW:
            assert not review & applicable_actions(job("01-a", status), has_log=True)
    assert review <= applicable_actions(job("01-a", Status.NEEDS_REVIEW), has_log=True)


def test_the_worktree_can_be_opened_only_while_it_exists():
    worktree = {"open_worktree", "open_terminal"}
    assert worktree <= applicable_actions(job("01-a", Status.FAILED), has_log=True, worktree=True)
    assert not worktree & applicable_actions(job("01-a", Status.FAILED), has_log=True, worktree=False)


def test_the_menus_and_the_toolbar_show_the_actions_and_pause_turns_into_resume(qtbot, tmp_path):
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = make_actions(window, tmp_path / "prds")
    job_menu = add_menus(window, actions)
    add_toolbar(window, actions)
    assert [menu.text() for menu in window.menuBar().actions()] == ["&File", "&Queue", "&Job", "&Help"]
    assert [action.text() for action in job_menu.actions() if action.text()] == [
        text for text, _command in JOB_ACTIONS.values()]
    toolbar = window.findChild(QToolBar, "queueToolbar")
    assert [action.text() for action in toolbar.actions()] == [
        "Pause", "Start next batch now", "New PRD…", "Open folder", "Settings…"]
    assert actions["open_folder"].toolTip() == f"Open {tmp_path / 'prds'}"

    show_paused(actions["pause"], True, window)
    assert actions["pause"].text() == "Resume" and actions["pause"].toolTip() == "Let new runs start again"
    show_paused(actions["pause"], False, window)
    assert actions["pause"].text() == "Pause"


def test_a_fix_plan_awaiting_approval_is_approved_or_discarded_not_run():
    assert applicable_actions(job("01-fix-a"), has_log=False, held=True) == {"approve", "discard", "open_prd", "reveal"}
    assert not {"approve", "discard"} & applicable_actions(job("01-fix-a", Status.FAILED), has_log=True)
