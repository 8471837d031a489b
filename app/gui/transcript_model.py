"""A transcript as a Qt list model, and the rows it shows built from stream-JSON events.

`TranscriptModel` only grows at the end; when it holds more than its cap it drops its
oldest rows and says earlier lines are not shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont

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
from app.core.transcript import describe_tool_call, render_text
from app.gui.formatting import ERROR_COLOR, format_size

Index = QModelIndex | QPersistentModelIndex

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


def plain_rows(lines: Iterable[bytes]) -> list[TranscriptRow]:
    """Lines of a plain log (a verify log): a `$ command` header reads as a call, the rest as text."""
    rows = []
    for line in lines:
        text = line.decode("utf-8", errors="replace")
        kind = RowKind.TOOL_CALL if text.startswith("$ ") else RowKind.TEXT
        rows.append(TranscriptRow(kind, shorten(text, DISPLAY_KEEP), shorten(text, DETAIL_KEEP)))
    return rows


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

    def rowCount(self, parent: Index = QModelIndex()) -> int:
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
        return None
