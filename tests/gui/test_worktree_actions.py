"""Reviewing a worktree job from the window: Accept, Merge again and Discard send their commands only
for a job that needs review (Discard after asking), and its worktree opens in the file manager or a
terminal while it exists."""

import os
import stat
from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.queue import QueueState, Status
from app.engine.api import Snapshot
from app.gui.queue_model import Column
from tests.gui.worktree_repo import BRANCH, without_worktree, worktree_job


@pytest.fixture
def sent(idle_window, monkeypatch):
    requests = []
    monkeypatch.setattr(idle_window.bridge, "command", lambda request, answer=None: requests.append(dict(request)))
    return requests


def select(qtbot, window, the_job):
    """The engine reports `the_job`, and the user selects its row; returns once its changes were read."""
    window.bridge.stateChanged.emit(Snapshot(QueueState(jobs={the_job.slug: the_job})), [the_job.slug])
    with qtbot.waitSignal(window.detail.changes.loaded, timeout=20000):
        window.queue_panel.select_slug(the_job.slug)


def enabled(window, *keys):
    return {key for key in keys if window.user_actions[key].isEnabled()}


def test_the_folder_column_shows_the_repository_and_branch(qtbot, idle_window, tmp_path):
    select(qtbot, idle_window, worktree_job(tmp_path))
    assert idle_window.queue_model.index(0, Column.CWD).data() == f"app · {BRANCH}"


def test_accept_and_merge_again_send_their_commands_for_a_job_that_needs_review(qtbot, idle_window, sent, tmp_path):
    select(qtbot, idle_window, worktree_job(tmp_path))
    assert enabled(idle_window, "accept", "merge", "discard") == {"accept", "merge", "discard"}
    idle_window.user_actions["accept"].trigger()
    idle_window.user_actions["merge"].trigger()
    assert sent == [{"cmd": "accept", "slug": "01-a"}, {"cmd": "merge", "slug": "01-a"}]


def test_a_failed_worktree_job_cannot_be_accepted_but_its_worktree_opens(qtbot, idle_window, tmp_path):
    select(qtbot, idle_window, worktree_job(tmp_path, Status.FAILED))
    assert enabled(idle_window, "accept", "merge", "discard") == set()
    assert enabled(idle_window, "open_worktree", "open_terminal") == {"open_worktree", "open_terminal"}


def answer_discard(qtbot, button_text):
    def box():
        return next((w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()), None)

    qtbot.waitUntil(lambda: box() is not None)
    question = box()
    assert "overnight/01-a" in question.informativeText()
    next(b for b in question.buttons() if b.text().replace("&", "") == button_text).click()


def test_discard_asks_first_and_sends_discard_only_when_confirmed(qtbot, idle_window, sent, tmp_path):
    select(qtbot, idle_window, worktree_job(tmp_path))
    idle_window.user_actions["discard"].trigger()
    answer_discard(qtbot, "Cancel")
    assert sent == []
    idle_window.user_actions["discard"].trigger()
    answer_discard(qtbot, "Discard")
    qtbot.waitUntil(lambda: sent == [{"cmd": "discard", "slug": "01-a"}])


def test_open_worktree_asks_the_desktop_to_open_its_folder(qtbot, idle_window, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("app.gui.worktree_actions.open_path", lambda path: opened.append(path) or True)
    the_job = worktree_job(tmp_path)
    select(qtbot, idle_window, the_job)
    idle_window.user_actions["open_worktree"].trigger()
    assert [str(path) for path in opened] == [the_job.workspace.path]


def test_open_in_terminal_starts_the_users_terminal_in_the_worktree(qtbot, idle_window, tmp_path, monkeypatch):
    where = tmp_path / "terminal-ran-in"
    terminal = tmp_path / "bin" / "my-terminal"
    terminal.parent.mkdir()
    terminal.write_text(f"#!/bin/sh\npwd > {where}\n")
    terminal.chmod(terminal.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TERMINAL", str(terminal))
    the_job = worktree_job(tmp_path)
    select(qtbot, idle_window, the_job)
    idle_window.user_actions["open_terminal"].trigger()
    qtbot.waitUntil(lambda: where.exists() and where.read_text().strip() == the_job.workspace.path, timeout=10000)


def test_without_any_terminal_the_window_says_what_to_do(qtbot, idle_window, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.delenv("TERMINAL", raising=False)
    the_job = worktree_job(tmp_path)
    select(qtbot, idle_window, the_job)
    monkeypatch.setenv("PATH", str(empty))  # no terminal (and no git) to be found from here on
    idle_window.user_actions["open_terminal"].trigger()
    qtbot.waitUntil(lambda: "No terminal program found" in idle_window.notice.text())
    assert "set TERMINAL" in idle_window.notice.text() and the_job.workspace.path in idle_window.notice.text()


def test_a_worktree_removed_by_hand_cannot_be_opened(qtbot, idle_window, tmp_path):
    the_job = without_worktree(tmp_path, worktree_job(tmp_path))
    select(qtbot, idle_window, replace(the_job, status=Status.NEEDS_REVIEW))
    assert enabled(idle_window, "open_worktree", "open_terminal") == set()
    assert not os.path.exists(the_job.workspace.path)
