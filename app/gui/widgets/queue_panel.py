"""The queue as a table under a text filter and a status filter; the current row is the selected job."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.gui.queue_model import (
    SLUG_ROLE,
    STATUS_FILTERS,
    Column,
    QueueModel,
    QueueProxy,
)

COLUMN_WIDTHS = ((Column.GROUP, 55), (Column.TITLE, 260), (Column.STATUS, 150), (Column.CWD, 180),
                 (Column.STARTED, 90), (Column.DURATION, 170), (Column.COST, 70), (Column.TURNS, 55))


class QueuePanel(QWidget):
    currentSlugChanged = Signal(object)  # str | None
    contextMenuRequested = Signal(QPoint)  # where, on the screen, over the row just made current

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = QueueProxy(self)
        self.proxy.setSourceModel(model)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by slug, title or reason")
        self.filter_edit.setClearButtonEnabled(True)
        self.status_filter = QComboBox(self)
        self.status_filter.addItems(list(STATUS_FILTERS))
        self._init_view()
        self._init_layout()
        self._connect_signals()

    def _init_view(self) -> None:
        view = self.view = QTableView(self)
        view.setModel(self.proxy)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
        header = view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in COLUMN_WIDTHS:
            view.setColumnWidth(column, width)
        header.setSortIndicator(Column.GROUP, Qt.SortOrder.AscendingOrder)
        view.setSortingEnabled(True)

    def _init_layout(self) -> None:
        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)

    def _connect_signals(self) -> None:
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.status_filter.currentTextChanged.connect(lambda text: self.proxy.set_statuses(STATUS_FILTERS[text]))
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.view.customContextMenuRequested.connect(self._context_menu)

    def select_slug(self, slug: str) -> None:
        row = self.model.row_of(slug)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():  # filtered out: show everything rather than nothing
            self.filter_edit.clear()
            self.status_filter.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentSlugChanged.emit(current.data(SLUG_ROLE) if current.isValid() else None)

    def _context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        self.view.setCurrentIndex(index)
        self.contextMenuRequested.emit(self.view.viewport().mapToGlobal(position))
