"""The queue and a transcript as Qt item models.

`QueueModel` mirrors the engine's `QueueState` row for row and applies each state change
as row operations (insert, remove, dataChanged for the changed rows only), so views keep
their selection and scroll position. `TranscriptModel` only grows at the end; when it
holds more than its cap it drops its oldest rows and says earlier lines are not shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from app.core.batching import waiting_reason
from app.core.queue import InvestigationStatus, Job, QueueState, Status
from app.core.stream import (
    ApiRetry,
    AssistantText,
    Event,
    Init,
    RateLimit,
    Result,
    ToolResult,
    ToolUse,
    Unparsed,
)
from app.core.text import shorten
from app.core.times import local_time
from app.core.transcript import describe_tool_call, render_text

Index = QModelIndex | QPersistentModelIndex

JOB_ROLE = Qt.ItemDataRole.UserRole + 1
SLUG_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_COLOR_ROLE = Qt.ItemDataRole.UserRole + 3
ROW_KIND_ROLE = Qt.ItemDataRole.UserRole + 4

# Mid-tone colours: readable as icons and text accents on light and dark palettes alike.
STATUS_COLORS: Mapping[Status, str] = {
    Status.PENDING: "#8a94a6",
    Status.RUNNING: "#3b82f6",
    Status.COMPLETED: "#22a55a",
    Status.FAILED: "#e5484d",
    Status.INVALID: "#e08a00",
    Status.CANCELLED: "#9a8c7a",
    Status.SKIPPED: "#a07ce0",
}
ERROR_COLOR = "#e5484d"

# Most urgent first, for sorting by status.
STATUS_ORDER: Mapping[Status, int] = {
    status: rank
    for rank, status in enumerate(
        (Status.RUNNING, Status.FAILED, Status.INVALID, Status.PENDING, Status.COMPLETED, Status.CANCELLED,
         Status.SKIPPED)
    )
}


# ---------------------------------------------------------------- words for values


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_countdown(moment: dt.datetime | None, now: dt.datetime) -> str:
    """"in 2 h 05 min (14:05)"; "now" once the moment has passed; "" when unknown."""
    if moment is None:
        return ""
    left = (moment - now).total_seconds()
    if left <= 0:
        return "now"
    return f"in {format_duration(left)} ({local_time(moment, now)})"


def format_cost(cost: float | None) -> str:
    if cost is None:
        return ""
    return f"${cost:.2f}" if cost >= 0.01 else f"${cost:.4f}"


def format_size(size: int) -> str:
    if size < 1000:
        return f"{size} chars"
    if size < 1_000_000:
        return f"{size / 1000:.1f} k chars"
    return f"{size / 1_000_000:.1f} M chars"


# ---------------------------------------------------------------- what a job row shows


def started_at(job: Job) -> dt.datetime | None:
    if job.current is not None:
        return job.current.started_at
    if job.last is not None:
        return job.last.finished_at - dt.timedelta(milliseconds=job.last.duration_ms)
    return None


def duration_seconds(job: Job, now: dt.datetime) -> float | None:
    if job.current is not None:
        return (now - job.current.started_at).total_seconds()
    if job.last is not None:
        return job.last.duration_ms / 1000
    return None


def duration_text(job: Job, now: dt.datetime) -> str:
    """Elapsed time with the ETA while running; the last run's duration after; the estimate before."""
    estimate = job.estimate_minutes * 60 if job.estimate_minutes is not None else None
    seconds = duration_seconds(job, now)
    if job.current is not None and seconds is not None:
        elapsed = format_duration(seconds)
        if estimate is None:
            return elapsed
        if seconds <= estimate:
            return f"{elapsed} · ETA {format_duration(estimate - seconds)}"
        return f"{elapsed} · {format_duration(seconds - estimate)} over estimate"
    if seconds is not None:
        return format_duration(seconds)
    if estimate is not None and job.status is Status.PENDING:
        return f"~{format_duration(estimate)} estimated"
    return ""


def job_cost(job: Job) -> float | None:
    if job.current is not None and job.current.result is not None:
        return job.current.result.total_cost_usd
    return job.last.cost_usd if job.last is not None else None


def job_turns(job: Job) -> int | None:
    if job.current is not None and job.current.result is not None:
        return job.current.result.num_turns
    return job.last.num_turns if job.last is not None else None


def status_text(job: Job) -> str:
    """The status, with what is still happening to the job: a run being stopped, an investigation."""
    if job.current is not None and job.current.stopping:
        return f"{job.status.value} (stopping)"
    if job.investigation is not None and job.investigation.status in (InvestigationStatus.WAITING,
                                                                      InvestigationStatus.RUNNING):
        return f"{job.status.value} (investigating)"
    return job.status.value


def reason_text(jobs: Mapping[str, Job], job: Job) -> str:
    """What the reason column says: the error and its fix, why a pending job waits, or the last reason."""
    if job.status is Status.INVALID and job.error is not None:
        return f"{job.error.problem} — {job.error.fix}"
    waiting = waiting_reason(jobs, job)
    if waiting:
        return waiting
    return job.reason


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

def status_icon(status: Status) -> QIcon:
    """A dot in the status colour."""
    color = QColor(STATUS_COLORS[status])
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(color.darker(140))
    painter.setBrush(color)
    painter.drawEllipse(2, 2, 12, 12)
    painter.end()
    return QIcon(pixmap)


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
        self._now = dt.datetime.now(dt.UTC)
        self._sort_column = Column.GROUP
        self._descending = False
        # Owned by the model, not the module: Qt pixmaps must not outlive the application.
        self._icons: dict[Status, QIcon] = {}

    # ------------------------------------------------------------ applying state

    def apply(self, state: QueueState, changed: Iterable[str]) -> None:
        """Bring the rows in line with `state`; `changed` names the jobs that changed since the last call."""
        self._remove([slug for slug in self._slugs if slug not in state.jobs])
        new = [slug for slug in state.jobs if slug not in self._row_of]
        touched = self._touched(state, set(changed)) - set(new)
        for slug in touched:
            self._jobs[slug] = state.jobs[slug]
        self._insert(new, state)
        self._emit_changed(sorted(self._row_of[slug] for slug in touched), 0, len(Column) - 1)
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

    def tick(self, now: dt.datetime) -> None:
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

    def _insert(self, new: Sequence[str], state: QueueState) -> None:
        if not new:
            return
        first = len(self._slugs)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for slug in new:
            self._jobs[slug] = state.jobs[slug]
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

    def job(self, slug: str) -> Job | None:
        return self._jobs.get(slug)

    def row_of(self, slug: str) -> int | None:
        return self._row_of.get(slug)

    def reason_at(self, row: int) -> str:
        return reason_text(self._jobs, self.job_at(row))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._slugs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
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
        if role == JOB_ROLE:
            return job
        if role == SLUG_ROLE:
            return job.slug
        if role == STATUS_COLOR_ROLE:
            return QColor(STATUS_COLORS[job.status])
        return None

    def _display(self, job: Job, column: Column) -> str:
        match column:
            case Column.GROUP:
                return str(job.group)
            case Column.TITLE:
                return job.title if job.title == job.slug else f"{job.title}  ({job.slug})"
            case Column.STATUS:
                return status_text(job)
            case Column.CWD:
                return job.cwd
            case Column.STARTED:
                moment = started_at(job)
                return local_time(moment, self._now) if moment else ""
            case Column.DURATION:
                return duration_text(job, self._now)
            case Column.COST:
                return format_cost(job_cost(job))
            case Column.TURNS:
                turns = job_turns(job)
                return "" if turns is None else str(turns)
            case Column.REASON:
                return reason_text(self._jobs, job)

    def _tooltip(self, job: Job, column: Column) -> str | None:
        if column is Column.REASON:
            if job.error is not None:
                return job.error.one_line()
            return reason_text(self._jobs, job) or None
        if column is Column.TITLE:
            return f"{job.title}\n{job.slug}.md"
        if column is Column.CWD:
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
                value = job.cwd
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
                value = reason_text(self._jobs, job).casefold() or None
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
    **{status.value.capitalize(): frozenset({status}) for status in Status},
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

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
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


# ---------------------------------------------------------------- transcripts

DISPLAY_KEEP = 4000
DETAIL_KEEP = 4000
MAX_TRANSCRIPT_ROWS = 5000


class RowKind(StrEnum):
    SESSION = "session"
    TEXT = "text"
    CLI = "cli"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    RATE_LIMIT = "rate_limit"
    RETRY = "retry"
    RESULT = "result"
    UNPARSED = "unparsed"


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    kind: RowKind
    text: str
    detail: str = ""  # the full text, shown as a tooltip
    is_error: bool = False


def transcript_rows(events: Iterable[Event]) -> list[TranscriptRow]:
    """The rows a reader cares about; pure, so the follower builds them off the GUI thread."""
    return [row for event in events if (row := _row(event)) is not None]


def _row(event: Event) -> TranscriptRow | None:
    match event:
        case AssistantText(synthetic=True):
            return TranscriptRow(RowKind.CLI, shorten(event.text, DISPLAY_KEEP), shorten(event.text, DETAIL_KEEP))
        case AssistantText():
            return TranscriptRow(RowKind.TEXT, shorten(event.text, DISPLAY_KEEP), shorten(event.text, DETAIL_KEEP))
        case ToolUse():
            return TranscriptRow(RowKind.TOOL_CALL, f"→ {describe_tool_call(event.name, event.input)}")
        case ToolResult():
            return _tool_result_row(event)
        case RateLimit(status="allowed"):
            return None
        case RateLimit():
            return TranscriptRow(RowKind.RATE_LIMIT, render_text([event]), is_error=event.status == "rejected")
        case Result():
            return TranscriptRow(RowKind.RESULT, render_text([event]), shorten(event.text, DETAIL_KEEP), event.is_error)
        case Init():
            return TranscriptRow(RowKind.SESSION, render_text([event]))
        case ApiRetry():
            return TranscriptRow(RowKind.RETRY, render_text([event]))
        case Unparsed():
            return TranscriptRow(RowKind.UNPARSED, render_text([event]), event.text, True)
    return None


def _tool_result_row(event: ToolResult) -> TranscriptRow:
    size = format_size(len(event.content))
    if event.is_error:
        first = event.content.strip().splitlines()[0] if event.content.strip() else ""
        text = f"← error · {size}: {shorten(first, 200)}"
    else:
        text = f"← ok · {size}"
    return TranscriptRow(RowKind.TOOL_RESULT, text, shorten(event.content, DETAIL_KEEP), event.is_error)


class TranscriptModel(QAbstractListModel):
    """A transcript's rows; new rows are appended, the oldest dropped beyond `max_rows`."""

    earlierHiddenChanged = Signal(bool)

    def __init__(self, max_rows: int = MAX_TRANSCRIPT_ROWS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self._rows: list[TranscriptRow] = []
        self.earlier_hidden = False

    def append_rows(self, rows: Sequence[TranscriptRow]) -> None:
        if not rows:
            return
        if len(rows) > self.max_rows:
            rows = rows[-self.max_rows:]
            self.set_earlier_hidden()
        overflow = len(self._rows) + len(rows) - self.max_rows
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._rows[:overflow]
            self.endRemoveRows()
            self.set_earlier_hidden()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows.clear()
            self.endRemoveRows()
        if self.earlier_hidden:
            self.earlier_hidden = False
            self.earlierHiddenChanged.emit(False)

    def set_earlier_hidden(self) -> None:
        if not self.earlier_hidden:
            self.earlier_hidden = True
            self.earlierHiddenChanged.emit(True)

    def row(self, number: int) -> TranscriptRow:
        return self._rows[number]

    def rows(self) -> list[TranscriptRow]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.detail or None
        if role == Qt.ItemDataRole.ForegroundRole and row.is_error:
            return QColor(ERROR_COLOR)
        if role == Qt.ItemDataRole.FontRole and row.kind is RowKind.RESULT:
            font = QFont()
            font.setBold(True)
            return font
        if role == ROW_KIND_ROLE:
            return row.kind.value
        return None
