"""The queue as a Qt table model, and the proxy that filters it.

`QueueModel` mirrors the engine's `QueueState` row for row and applies each state change
as row operations (insert, remove, dataChanged for the changed rows only), so views keep
their selection and scroll position.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum, StrEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QIcon

from app.core.batching import Waiting
from app.core.queue import Job, QueueState, Status
from app.engine.api import Snapshot
from app.gui.formatting import (
    duration_seconds,
    duration_text,
    folder_text,
    format_clock,
    format_cost,
    job_cost,
    job_turns,
    reason_text,
    started_at,
    status_text,
)
from app.gui.icons import status_icon

Index = QModelIndex | QPersistentModelIndex

SLUG_ROLE = Qt.ItemDataRole.UserRole + 1
AWAITING_APPROVAL = "awaiting approval"  # the status a held fix plan's row shows

# Most urgent first, for sorting by status.
STATUS_ORDER: Mapping[Status, int] = {
    status: rank
    for rank, status in enumerate(
        (Status.RUNNING, Status.NEEDS_REVIEW, Status.FAILED, Status.INVALID, Status.PENDING, Status.COMPLETED,
         Status.CANCELLED, Status.SKIPPED)
    )
}


class Column(IntEnum):
    GROUP = 0
    TITLE = 1
    STATUS = 2
    CWD = 3
    STARTED = 4
    DURATION = 5
    COST = 6
    TURNS = 7
    REASON = 8


HEADERS: Mapping[Column, str] = {
    Column.GROUP: "Group",
    Column.TITLE: "Title",
    Column.STATUS: "Status",
    Column.CWD: "Folder",
    Column.STARTED: "Started",
    Column.DURATION: "Duration / ETA",
    Column.COST: "Cost",
    Column.TURNS: "Turns",
    Column.REASON: "Reason",
}

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGNMENT: Mapping[Column, Qt.AlignmentFlag] = {Column.GROUP: _RIGHT, Column.COST: _RIGHT, Column.TURNS: _RIGHT}


class QueueModel(QAbstractTableModel):
    """One row per job, kept in the order of the sort column (group, then slug, by default).

    The model sorts itself: a key per row in Python and one C sort beat a proxy that calls
    back into Python for every comparison (seconds for a 5,000-job queue's first fill).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._slugs: list[str] = []
        self._row_of: dict[str, int] = {}
        self._jobs: dict[str, Job] = {}
        self._held: set[str] = set()  # rows that are fix plans awaiting approval, not jobs
        self._waiting: Mapping[str, Waiting] = {}  # why pending jobs wait, as the engine's snapshot says it
        self._now = dt.datetime.now(dt.UTC)
        self._sort_column = Column.GROUP
        self._descending = False
        # Owned by the model, not the module: Qt pixmaps must not outlive the application.
        self._icons: dict[Status, QIcon] = {}

    # ------------------------------------------------------------ applying state

    def apply(self, snapshot: Snapshot, changed: Iterable[str]) -> None:
        """Bring the rows in line with the engine's `snapshot`; `changed` names the jobs that changed
        since the last call."""
        state = snapshot.state
        waited, self._waiting = self._waiting, snapshot.waiting()
        held = snapshot.held_plans()
        rows = {**state.jobs, **held} if held else state.jobs
        self._remove([slug for slug in self._slugs if slug not in rows])
        new = [slug for slug in rows if slug not in self._row_of]
        touched = self._touched(state, set(changed)) - set(new)
        touched |= {slug for slug in held if slug in self._row_of and self._jobs[slug] != held[slug]}
        self._held = set(held)
        for slug in touched:
            self._jobs[slug] = rows[slug]
        self._insert(new, rows)
        self._emit_changed(sorted(self._row_of[slug] for slug in touched), 0, len(Column) - 1)
        # Why a job waits also follows the gate, the cap and the other jobs' groups.
        rewaiting = {slug for slug in waited.keys() | self._waiting.keys()
                     if waited.get(slug) != self._waiting.get(slug) and slug in self._row_of} - touched - set(new)
        self._emit_changed(sorted(self._row_of[slug] for slug in rewaiting), Column.REASON, Column.REASON)
        if new or (touched and self._sort_column is not Column.GROUP):
            self._keep_sorted([*new, *touched])

    # ------------------------------------------------------------ sorting

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column = Column(column)
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._resort()

    def _key(self, slug: str) -> tuple:
        return self.sort_key(self._row_of[slug], self._sort_column)

    def _keep_sorted(self, slugs: Iterable[str]) -> None:
        """Re-sort only when one of `slugs` is out of place next to its neighbours."""
        last = len(self._slugs) - 1
        for slug in slugs:
            row = self._row_of[slug]
            key = self._key(slug)
            before = row > 0 and self._in_order(key, self._key(self._slugs[row - 1])) is False
            after = row < last and self._in_order(self._key(self._slugs[row + 1]), key) is False
            if before or after:
                self._resort()
                return

    def _in_order(self, later: tuple, earlier: tuple) -> bool:
        return earlier >= later if self._descending else earlier <= later

    def _resort(self) -> None:
        self.layoutAboutToBeChanged.emit()
        keys = {slug: self._key(slug) for slug in self._slugs}
        old_order = list(self._slugs)
        self._slugs.sort(key=keys.__getitem__, reverse=self._descending)
        self._reindex()
        persistent = self.persistentIndexList()
        moved = [self.index(self._row_of[old_order[index.row()]], index.column()) for index in persistent]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def refresh(self, now: dt.datetime) -> None:
        """Running rows' durations move with the clock."""
        self._now = now
        running = sorted(self._row_of[slug] for slug, job in self._jobs.items() if job.current is not None)
        self._emit_changed(running, Column.DURATION, Column.DURATION)

    def _touched(self, state: QueueState, changed: set[str]) -> set[str]:
        """The changed jobs still in the queue, and those whose waiting reason names one of them."""
        touched = {slug for slug in changed if slug in state.jobs and slug in self._row_of}
        touched |= {
            slug for slug, job in state.jobs.items()
            if slug in self._row_of and job.depends_on and changed.intersection(job.depends_on)
        }
        return touched

    def _remove(self, gone: Sequence[str]) -> None:
        for first, last in reversed(_runs(sorted(self._row_of[slug] for slug in gone))):
            self.beginRemoveRows(QModelIndex(), first, last)
            for slug in self._slugs[first:last + 1]:
                del self._jobs[slug]
            del self._slugs[first:last + 1]
            self._reindex()
            self.endRemoveRows()

    def _insert(self, new: Sequence[str], rows: Mapping[str, Job]) -> None:
        if not new:
            return
        first = len(self._slugs)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for slug in new:
            self._jobs[slug] = rows[slug]
            self._slugs.append(slug)
        self._reindex()
        self.endInsertRows()

    def _reindex(self) -> None:
        self._row_of = {slug: row for row, slug in enumerate(self._slugs)}

    def _emit_changed(self, rows: Sequence[int], first_column: int, last_column: int) -> None:
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, first_column), self.index(last, last_column))

    # ------------------------------------------------------------ reading

    def _status_icon(self, status: Status) -> QIcon:
        if status not in self._icons:
            self._icons[status] = status_icon(status)
        return self._icons[status]

    def job_at(self, row: int) -> Job:
        return self._jobs[self._slugs[row]]

    def row_of(self, slug: str) -> int | None:
        return self._row_of.get(slug)

    def status_counts(self) -> Counter[Status]:
        """How many rows have each status."""
        return Counter(job.status for job in self._jobs.values())

    def is_held(self, slug: str) -> bool:
        """The row is a fix plan awaiting the user's approval."""
        return slug in self._held

    def reason_at(self, row: int) -> str:
        job = self.job_at(row)
        return reason_text(job, self._waiting.get(job.slug), self._now)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._slugs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(
                Column):
            return HEADERS[Column(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._slugs):
            return None
        job = self.job_at(index.row())
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, column)
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATUS:
            return self._status_icon(job.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _ALIGNMENT:
            return int(_ALIGNMENT[column])
        if role == SLUG_ROLE:
            return job.slug
        return None

    def _display(self, job: Job, column: Column) -> str:
        match column:
            case Column.GROUP:
                return str(job.group)
            case Column.TITLE:
                return job.title if job.title == job.slug else f"{job.title}  ({job.slug})"
            case Column.STATUS:
                return AWAITING_APPROVAL if job.slug in self._held else status_text(job)
            case Column.CWD:
                return folder_text(job)
            case Column.STARTED:
                moment = started_at(job)
                return format_clock(moment, self._now) if moment else ""
            case Column.DURATION:
                return duration_text(job, self._now)
            case Column.COST:
                return format_cost(job_cost(job))
            case Column.TURNS:
                turns = job_turns(job)
                return "" if turns is None else str(turns)
            case Column.REASON:
                return reason_text(job, self._waiting.get(job.slug), self._now)

    def _tooltip(self, job: Job, column: Column) -> str | None:
        if column is Column.REASON:
            if job.error is not None:
                return job.error.one_line()
            return reason_text(job, self._waiting.get(job.slug), self._now) or None
        if column is Column.TITLE:
            return f"{job.title}\n{job.slug}.md"
        if column is Column.CWD:
            workspace = job.workspace
            if workspace is not None:
                return f"{job.cwd}\nruns in {workspace.path}\non branch {workspace.branch}"
            return job.cwd or None
        return None

    def sort_key(self, row: int, column: Column) -> tuple:
        """Sort by the column, then by group and slug; empty values last."""
        job = self.job_at(row)
        tie = (job.group, job.slug)
        match column:
            case Column.GROUP:
                value: Any = 0
            case Column.TITLE:
                value = job.title.casefold()
            case Column.STATUS:
                value = STATUS_ORDER[job.status]
            case Column.CWD:
                value = folder_text(job)
            case Column.STARTED:
                moment = started_at(job)
                value = moment.timestamp() if moment else None
            case Column.DURATION:
                value = duration_seconds(job, self._now)
            case Column.COST:
                value = job_cost(job)
            case Column.TURNS:
                value = job_turns(job)
            case Column.REASON:
                value = reason_text(job, self._waiting.get(job.slug), self._now).casefold() or None
        return (value is None, value if value is not None else 0, tie)


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class StatusFilter(StrEnum):
    ALL = "All jobs"
    ACTIVE = "Pending and running"
    PROBLEMS = "Failed and invalid"
    FINISHED = "Finished"


STATUS_FILTERS: Mapping[str, frozenset[Status] | None] = {
    StatusFilter.ALL: None,
    StatusFilter.ACTIVE: frozenset({Status.PENDING, Status.RUNNING}),
    StatusFilter.PROBLEMS: frozenset({Status.FAILED, Status.INVALID}),
    StatusFilter.FINISHED: frozenset({Status.COMPLETED, Status.CANCELLED, Status.SKIPPED}),
    **{status.value.replace("_", " ").capitalize(): frozenset({status}) for status in Status},
}


class QueueProxy(QSortFilterProxyModel):
    """Filters by text and status; sorting is the queue model's own (see QueueModel)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._statuses: frozenset[Status] | None = None
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange()

    def set_statuses(self, statuses: frozenset[Status] | None) -> None:
        self.beginFilterChange()
        self._statuses = statuses
        self.endFilterChange()

    def queue(self) -> QueueModel:
        source = self.sourceModel()
        assert isinstance(source, QueueModel)
        return source

    def filterAcceptsRow(self, source_row: int, _source_parent: Index) -> bool:
        model = self.queue()
        job = model.job_at(source_row)
        if self._statuses is not None and job.status not in self._statuses:
            return False
        if not self._text:
            return True
        haystack = f"{job.slug}\n{job.title}\n{model.reason_at(source_row)}".casefold()
        return self._text in haystack

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.queue().sort(column, order)
