"""The queue as a table under a text filter and a status filter; the current row is the selected job.

The status filter counts its jobs ("Failed (2)"), kept current as the queue changes; an empty queue
shows how to add the first PRD instead of an empty table.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
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
    prdFormatRequested = Signal()  # the empty queue's link to the PRD format

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = QueueProxy(self)
        self.proxy.setSourceModel(model)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by slug, title or reason")
        self.filter_edit.setClearButtonEnabled(True)
        self.status_filter = QComboBox(self)
        self.status_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for name in STATUS_FILTERS:
            self.status_filter.addItem(name, name)
        # One count after a burst of row changes (a state change arrives as many), not one per change.
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(0)
        self._init_view()
        self._init_empty_hint()
        self._init_layout()
        self._connect_signals()
        self._count()

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

    def _init_empty_hint(self) -> None:
        self.empty_hint = QLabel(self.view.viewport())
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.set_new_prd_keys("")
        layout = QVBoxLayout(self.view.viewport())
        layout.addWidget(self.empty_hint, 0, Qt.AlignmentFlag.AlignCenter)

    def set_new_prd_keys(self, keys: str) -> None:
        """The empty queue's hint names New PRD's shortcut, `keys` (the action's, in the platform's words)."""
        new_prd = f"New PRD ({escape(keys)})" if keys else "New PRD"
        self.empty_hint.setText(f"<p style='font-size: large'>Drop PRD files here, or {new_prd}</p>"
                                "<p><a href='prd-format'>What goes in a PRD file</a></p>")

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
        self.status_filter.currentIndexChanged.connect(
            lambda index: self.proxy.set_statuses(STATUS_FILTERS[self.status_filter.itemData(index)]))
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._recount.start)
        self.model.dataChanged.connect(self._count_if_status_changed)
        self._recount.timeout.connect(self._count)
        self.empty_hint.linkActivated.connect(lambda _link: self.prdFormatRequested.emit())
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

    def _count_if_status_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        """Durations change every second; only a change that reaches the status column can change a count."""
        if top_left.column() <= Column.STATUS <= bottom_right.column():
            self._recount.start()

    def _count(self) -> None:
        """Each status filter's name with how many jobs it shows; the hint when there are none at all."""
        by_status = self.model.status_counts()
        for index in range(self.status_filter.count()):
            name = self.status_filter.itemData(index)
            statuses = STATUS_FILTERS[name]
            count = by_status.total() if statuses is None else sum(by_status[status] for status in statuses)
            text = f"{name} ({count})"
            if self.status_filter.itemText(index) != text:  # the combo box lays itself out again on each change
                self.status_filter.setItemText(index, text)
        self.empty_hint.setVisible(not by_status)
