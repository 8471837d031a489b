"""The detail pane's Changes tab for a worktree job: the files it changed since its run started, each
with its added and removed lines, and the selected file's diff, coloured (app.gui.changes reads them
with git, off the GUI thread). A result that arrives after another job was selected is dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.queue import Job, Status
from app.core.workspace import Workspace
from app.engine.api import GitError
from app.gui.changes import MAX_DIFF_CHARS, Changes, FileChange, FileDiff, read_changes, read_diff
from app.gui.desktop import in_background
from app.gui.formatting import ERROR_COLOR, STATUS_COLORS, format_size

ADDED_COLOR = STATUS_COLORS[Status.COMPLETED]
REMOVED_COLOR = ERROR_COLOR
HUNK_COLOR = STATUS_COLORS[Status.RUNNING]
T = TypeVar("T")
R = TypeVar("R")
TINT_ALPHA = 60  # line backgrounds: a tint under the palette's own text colour, readable light or dark


def _tint(color: str) -> QColor:
    tinted = QColor(color)
    tinted.setAlpha(TINT_ALPHA)
    return tinted


class DiffHighlighter(QSyntaxHighlighter):
    """Unified diff: added and removed lines tinted, hunk headers coloured, file headers bold."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.added, self.removed, self.hunk, self.header = (QTextCharFormat() for _ in range(4))
        self.added.setBackground(_tint(ADDED_COLOR))
        self.removed.setBackground(_tint(REMOVED_COLOR))
        self.hunk.setForeground(QColor(HUNK_COLOR))
        self.header.setFontWeight(QFont.Weight.Bold)

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("diff ", "index ", "--- ", "+++ ", "new file", "deleted file", "Binary files")):
            style = self.header
        elif text.startswith("@@"):
            style = self.hunk
        elif text.startswith("+"):
            style = self.added
        elif text.startswith("-"):
            style = self.removed
        else:
            return
        self.setFormat(0, len(text), style)


class ChangesView(QWidget):
    loaded = Signal()  # the list of files arrived: whether the worktree exists is known now

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace: Workspace | None = None
        self.changes = Changes()
        self.worktree_found = False  # as last read, for the job shown
        self._shown: tuple[Any, ...] | None = None
        self._asked = 0  # the latest read asked for; older answers are dropped
        self._diff_asked: tuple[int, str] = (0, "")  # and the latest diff, of which file
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh = QPushButton("Refresh", self)
        self.refresh.setToolTip("Read the changes again (a running job keeps changing its files)")
        self.files = QTableWidget(0, 3, self)
        self.files.setHorizontalHeaderLabels(["File", "+", "−"])
        self.files.verticalHeader().setVisible(False)
        self.files.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.files.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.files.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.diff = QPlainTextEdit(self)
        self.diff.setReadOnly(True)
        self.diff.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diff.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        DiffHighlighter(self.diff.document())  # owned by the document
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.files)
        split.addWidget(self.diff)
        split.setSizes([220, 500])
        top = QHBoxLayout()
        top.addWidget(self.note, 1)
        top.addWidget(self.refresh, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.refresh.clicked.connect(self.reload)
        self.files.itemSelectionChanged.connect(self._file_selected)

    def show_job(self, job: Job | None) -> None:
        """Read the job's changes again when its workspace, status or runs moved on."""
        shown = None if job is None or job.workspace is None else (job.slug, job.workspace, job.status, job.runs)
        if shown == self._shown:
            return
        another = shown is None or self._shown is None or shown[0] != self._shown[0]
        self._shown = shown
        self.workspace = job.workspace if job is not None else None
        if another:
            self._show(Changes(), worktree=False)  # nothing of the previous job stays while this one loads
        self.reload()

    def reload(self) -> None:
        self._asked += 1
        if self.workspace is None:
            return
        self.note.setText("Reading the changes…")
        workspace = self.workspace
        in_background(_tagged(self._asked, lambda: read_changes(workspace)), self._changes_read)

    def _changes_read(self, result: tuple[int, Changes | None, str], _error: BaseException | None) -> None:
        asked, changes, problem = result
        if asked != self._asked:
            return
        if changes is None:
            self._show(Changes(note=f"git could not list the changes: {problem}"), worktree=False)
        else:
            self._show(changes, worktree=changes.in_worktree)
        self.loaded.emit()

    def _show(self, changes: Changes, worktree: bool) -> None:
        chosen = self._chosen()
        self.changes, self.worktree_found = changes, worktree
        where = "in its worktree, uncommitted work included" if changes.in_worktree else "on its branch"
        count = f"{len(changes.files)} file(s) changed since the run started, {where}."
        self.note.setText(" ".join(part for part in (changes.note, count if changes.files else "") if part)
                          or ("No file changed since the run started." if self.workspace else ""))
        self.files.blockSignals(True)
        self.files.clearSelection()  # selected again below, so a refreshed list reads its diff again
        self.files.setRowCount(len(changes.files))
        for row, change in enumerate(changes.files):
            self._set_row(row, change)
        self.files.blockSignals(False)
        paths = [change.path for change in changes.files]
        if chosen in paths:
            self.files.selectRow(paths.index(chosen))
        else:
            self.diff.clear()

    def _set_row(self, row: int, change: FileChange) -> None:
        name = QTableWidgetItem(change.path + (" (new, untracked)" if change.untracked else ""))
        name.setToolTip(change.path)
        self.files.setItem(row, 0, name)
        counts = ((1, change.added, "+", ADDED_COLOR), (2, change.removed, "−", REMOVED_COLOR))
        for column, lines, sign, color in counts:
            item = QTableWidgetItem("binary" if lines is None else f"{sign}{lines}")
            item.setForeground(QColor(color))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.files.setItem(row, column, item)

    def _chosen(self) -> str | None:
        rows = self.files.selectionModel().selectedRows()
        return self.changes.files[rows[0].row()].path if rows and rows[0].row() < len(self.changes.files) else None

    def _file_selected(self) -> None:
        rows = self.files.selectionModel().selectedRows()
        if not rows or self.workspace is None:
            return
        change, workspace, in_worktree = self.changes.files[rows[0].row()], self.workspace, self.changes.in_worktree
        self.diff.setPlainText(f"Reading the diff of {change.path}…")
        self._diff_asked = (self._asked, change.path)
        in_background(_tagged(self._diff_asked, lambda: read_diff(workspace, change, in_worktree)), self._diff_read)

    def _diff_read(self, result: tuple[tuple[int, str], FileDiff | None, str], _error: BaseException | None) -> None:
        asked, diff, problem = result
        if asked != self._diff_asked or asked[1] != self._chosen():
            return
        if diff is None:
            self.diff.setPlainText(f"git could not show the diff: {problem}")
            return
        text = diff.text or "No difference in its text (only its mode, or nothing at all)."
        if diff.capped:
            text += f"\n… the diff is longer than {format_size(MAX_DIFF_CHARS)}; the rest is not shown.\n"
        self.diff.setPlainText(text)


def _tagged(tag: T, read: Callable[[], R]) -> Callable[[], tuple[T, R | None, str]]:
    """`read` for in_background, its answer tagged with the request it answers (git's error as words)."""

    def work() -> tuple[T, R | None, str]:
        try:
            return tag, read(), ""
        except (GitError, OSError, ValueError) as exc:  # ValueError: output that is not UTF-8
            return tag, None, str(exc) or type(exc).__name__

    return work
