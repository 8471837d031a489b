"""The Changes tab of a worktree job, over a real git repository: the files changed with their lines
added and removed, the selected file's diff coloured, and what is missing when the user removed things."""

from dataclasses import replace

from PySide6.QtGui import QColor

from app.core.queue import Status
from app.gui.widgets.changes_view import ADDED_COLOR, REMOVED_COLOR
from tests.gui.worktree_repo import git, without_worktree, worktree_job
from tests.unit.core.factories import job, jobs


def listed(changes):
    return [tuple(changes.files.item(row, column).text() for column in range(3))
            for row in range(changes.files.rowCount())]


def shown(qtbot, detail, the_job):
    detail.show_job(the_job, jobs(the_job), [])
    with qtbot.waitSignal(detail.changes.loaded, timeout=20000):
        pass
    return detail.changes


def background_of(diff_view, starting):
    """The background the highlighter gave the first diff line that starts with `starting`."""
    document = diff_view.document()
    for number in range(document.blockCount()):
        block = document.findBlockByNumber(number)
        if block.text().startswith(starting):
            formats = block.layout().formats()
            return formats[0].format.background().color() if formats else None
    raise AssertionError(f"no line starts with {starting!r}")


def tinted(color):
    tint = QColor(color)
    tint.setAlpha(60)
    return tint


def test_the_tab_lists_committed_and_uncommitted_changes_and_colours_the_diff(qtbot, detail, tmp_path):
    the_job = worktree_job(tmp_path)
    changes = shown(qtbot, detail, the_job)
    assert detail.tabs.isTabVisible(detail.tabs.indexOf(changes))
    assert listed(changes) == [("app.py", "+2", "−1"), ("notes.md", "+1", "−0"),
                               ("todo.txt (new, untracked)", "+3", "−0")]
    assert "in its worktree, uncommitted work included" in changes.note.text()
    assert changes.worktree_found

    changes.files.selectRow(0)
    qtbot.waitUntil(lambda: "+two = 'two'" in changes.diff.toPlainText(), timeout=20000)
    text = changes.diff.toPlainText()
    assert "-two = 2" in text and "+four = 4" in text
    qtbot.waitUntil(lambda: background_of(changes.diff, "+two") is not None)
    assert background_of(changes.diff, "+two") == tinted(ADDED_COLOR)
    assert background_of(changes.diff, "-two") == tinted(REMOVED_COLOR)

    changes.files.selectRow(2)
    qtbot.waitUntil(lambda: "+second" in changes.diff.toPlainText(), timeout=20000)


def test_a_job_without_a_worktree_has_no_changes_tab(detail):
    shared = job("02-b", Status.COMPLETED)
    detail.show_job(shared, jobs(shared), [])
    assert not detail.tabs.isTabVisible(detail.tabs.indexOf(detail.changes))


def test_a_worktree_removed_by_hand_shows_the_branch_and_says_so(qtbot, detail, tmp_path):
    the_job = without_worktree(tmp_path, worktree_job(tmp_path))
    changes = shown(qtbot, detail, the_job)
    assert listed(changes) == [("app.py", "+2", "−1")]  # what was committed on the branch
    assert f"worktree {the_job.workspace.path} is gone" in changes.note.text()
    assert not changes.worktree_found


def test_a_branch_deleted_by_hand_says_what_is_missing(qtbot, detail, tmp_path):
    the_job = without_worktree(tmp_path, worktree_job(tmp_path))
    git(tmp_path / "app", "branch", "-D", "overnight/01-a")
    changes = shown(qtbot, detail, replace(the_job, runs=5))
    assert changes.files.rowCount() == 0
    assert "branch overnight/01-a is gone" in changes.note.text()
    assert "re-run the job" in changes.note.text()


def test_a_long_diff_is_cut_with_a_note(qtbot, detail, tmp_path, monkeypatch):
    monkeypatch.setattr("app.gui.changes.MAX_DIFF_CHARS", 120)
    the_job = worktree_job(tmp_path)
    (tmp_path / "worktrees" / "01-a" / "app.py").write_text("".join(f"line {n}\n" for n in range(200)))
    (tmp_path / "worktrees" / "01-a" / "todo.txt").write_text("".join(f"to do {n}\n" for n in range(300)))
    changes = shown(qtbot, detail, the_job)
    assert listed(changes)[2] == ("todo.txt (new, untracked)", "+300", "−0")  # counted in full all the same
    changes.files.selectRow(0)
    qtbot.waitUntil(lambda: "the rest is not shown" in changes.diff.toPlainText(), timeout=20000)
    assert "line 150" not in changes.diff.toPlainText()


def test_a_merged_job_shows_its_branch_changes(qtbot, detail, tmp_path):
    the_job = without_worktree(tmp_path, worktree_job(tmp_path, Status.COMPLETED))
    merged = replace(the_job, workspace=replace(the_job.workspace, merged=True, merge_commit="abcdef1234567890"))
    changes = shown(qtbot, detail, merged)
    assert listed(changes) == [("app.py", "+2", "−1")]
    assert changes.note.text().startswith("Merged (commit abcdef1234)")


def test_a_repository_that_is_gone_is_named(qtbot, detail, tmp_path):
    the_job = worktree_job(tmp_path)
    gone = replace(the_job, workspace=replace(the_job.workspace, repo=str(tmp_path / "moved-away"),
                                              path=str(tmp_path / "nowhere")))
    changes = shown(qtbot, detail, gone)
    assert changes.files.rowCount() == 0
    assert f"The repository {tmp_path / 'moved-away'} is gone" in changes.note.text()


def test_refresh_reads_the_list_and_the_selected_diff_again(qtbot, detail, tmp_path):
    the_job = worktree_job(tmp_path)
    changes = shown(qtbot, detail, the_job)
    changes.files.selectRow(1)
    qtbot.waitUntil(lambda: "+remember the milk" in changes.diff.toPlainText(), timeout=20000)
    (tmp_path / "worktrees" / "01-a" / "notes.md").write_text("# Notes\nremember the bread\nand the eggs\n")
    with qtbot.waitSignal(changes.loaded, timeout=20000):
        changes.refresh.click()
    assert listed(changes)[1] == ("notes.md", "+2", "−0")
    qtbot.waitUntil(lambda: "+and the eggs" in changes.diff.toPlainText(), timeout=20000)
