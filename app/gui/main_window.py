"""The main window: the engine's view and remote control.

It shows what the bridge reports (the queue, the pause, the usage meter, transcripts) and
turns the user's clicks into engine commands; it never changes the queue itself. Reading
files (PRDs, transcripts) and copying dropped files happen off the GUI thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.event_names import EventName
from app.core.prd import MAX_PRD_BYTES, body_of, slug_of
from app.core.queue import TERMINAL, Job, Pause, QueueState, Status
from app.engine.events import EngineEvent
from app.engine.intake import Added
from app.gui.bridge import EngineBridge
from app.gui.desktop import in_background, open_path, reveal_path
from app.gui.dialogs.about import AboutDialog
from app.gui.dialogs.add_prds import AddPrdsFlow
from app.gui.dialogs.new_prd import NewPrdDialog
from app.gui.dialogs.settings import SettingsDialog
from app.gui.models import SLUG_ROLE, STATUS_FILTERS, Column, QueueModel, QueueProxy, TranscriptModel
from app.paths import read_regular_file
from app.gui.transcript import TranscriptFollower, TranscriptSource, transcript_sources
from app.gui.widgets.job_detail import JobDetail
from app.gui.widgets.notice_line import NoticeLine
from app.gui.widgets.pause_banner import PauseBanner
from app.gui.widgets.status_strip import StatusStrip

PAUSE_REASON = "paused from the window"
MESSAGE_MS = 15000

# key: (text, command sent to the engine or None when the window handles it)
JOB_ACTIONS: Mapping[str, tuple[str, str | None]] = {
    "run": ("Run now", "run"),
    "cancel": ("Cancel", "cancel"),
    "reset": ("Reset to pending", "reset"),
    "skip": ("Skip", "skip"),
    "rerun": ("Re-run", "rerun"),
    "open_log": ("Open log", None),
    "open_prd": ("Open PRD", None),
    "reveal": ("Reveal in folder", None),
    "archive": ("Archive", None),
}


def applicable_actions(job: Job, has_log: bool) -> set[str]:
    """The job actions that make sense for `job` now (the engine has the last word)."""
    busy = job.is_busy
    stopping = job.current is not None and job.current.stopping is not None
    settled = job.status in TERMINAL and not busy
    checks = {
        "run": job.status is Status.PENDING and not busy,
        "cancel": job.status in (Status.PENDING, Status.RUNNING) and not stopping,
        "reset": settled,
        "skip": job.status in (Status.PENDING, Status.FAILED) and not busy,
        "rerun": settled,
        "open_log": has_log,
        "open_prd": not job.file_gone,
        "reveal": not job.file_gone,
        "archive": not busy and job.status is not Status.RUNNING and not job.file_gone,
    }
    return {key for key, applies in checks.items() if applies}


def read_prd_body(slug: str, path: Path) -> tuple[str, str | None, str]:
    """Blocking (briefly: never on a FIFO or a device): (slug, the PRD's body or None, why it could not be read)."""
    read = read_regular_file(path, MAX_PRD_BYTES)
    if read.data is not None:
        return slug, body_of(read.data), ""
    why = read.unreadable.problem if read.unreadable else "does not exist"
    return slug, None, f"{path} {why}"


class MainWindow(QMainWindow):
    quitRequested = Signal()

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.home = bridge.home
        self.hide_on_close = False
        self._quitting = False
        self.selected_slug: str | None = None
        self._state = QueueState()
        self._prd_shown: tuple[str, str] | None = None
        self._select_when_added: str | None = None
        self.setWindowTitle(f"Overnight — {self.home.root}")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self._init_models()
        self._init_actions()
        self._init_menus()
        self._init_toolbar()
        self._init_queue_view()
        self._init_detail()
        self._init_central()
        self._init_timers()
        self._connect_signals()
        self._apply_state(bridge.state, list(bridge.state.jobs))

    # ================================================================ building

    def _init_models(self) -> None:
        self.queue_model = QueueModel(self)
        self.proxy = QueueProxy(self)
        self.proxy.setSourceModel(self.queue_model)
        self.transcript_model = TranscriptModel(parent=self)
        self.follower = TranscriptFollower(self.transcript_model, self)
        self.add_flow = AddPrdsFlow(self.home, lambda: self.bridge.config, self)

    def _init_actions(self) -> None:
        icon = self.style().standardIcon
        pixmap = QStyle.StandardPixmap
        self.actions: dict[str, QAction] = {
            "pause": QAction(icon(pixmap.SP_MediaPause), "Pause", self),
            "tick": QAction(icon(pixmap.SP_MediaSeekForward), "Force tick", self),
            "new_prd": QAction(icon(pixmap.SP_FileIcon), "New PRD…", self),
            "add_files": QAction(icon(pixmap.SP_DialogOpenButton), "Add files…", self),
            "open_folder": QAction(icon(pixmap.SP_DirOpenIcon), "Open folder", self),
            "settings": QAction(icon(pixmap.SP_FileDialogDetailedView), "Settings…", self),
            "about": QAction("About Overnight", self),
            "quit": QAction("Quit", self),
        }
        self.actions["tick"].setToolTip("Start the next batch now, even if the gate is closed; clears a pause")
        self.actions["open_folder"].setToolTip(f"Open {self.home.prds}")
        self.actions["new_prd"].setShortcut(QKeySequence.StandardKey.New)
        self.actions["add_files"].setShortcut(QKeySequence.StandardKey.Open)
        self.actions["quit"].setShortcut(QKeySequence("Ctrl+Q"))
        self.actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
        self.actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
        for key, (text, _command) in JOB_ACTIONS.items():
            self.actions[key] = QAction(text, self)
        self.actions["archive"].setToolTip("Move the PRD file into prds-archive/ (never deleted)")

    def _init_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for key in ("new_prd", "add_files", "open_folder", "settings"):
            file_menu.addAction(self.actions[key])
        file_menu.addSeparator()
        file_menu.addAction(self.actions["quit"])
        queue_menu = self.menuBar().addMenu("&Queue")
        queue_menu.addAction(self.actions["pause"])
        queue_menu.addAction(self.actions["tick"])
        self.job_menu = self.menuBar().addMenu("&Job")
        for key in JOB_ACTIONS:
            if key in ("open_log", "archive"):
                self.job_menu.addSeparator()
            self.job_menu.addAction(self.actions[key])
        self.menuBar().addMenu("&Help").addAction(self.actions["about"])

    def _init_toolbar(self) -> None:
        self.toolbar = self.addToolBar("Queue")
        self.toolbar.setObjectName("queueToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for key in ("pause", "tick", "new_prd", "open_folder", "settings"):
            self.toolbar.addAction(self.actions[key])

    def _init_queue_view(self) -> None:
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by slug, title or reason")
        self.filter_edit.setClearButtonEnabled(True)
        self.status_filter = QComboBox(self)
        self.status_filter.addItems(list(STATUS_FILTERS))
        view = QTableView(self)
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
        for column, width in ((Column.GROUP, 55), (Column.TITLE, 260), (Column.STATUS, 150), (Column.CWD, 180),
                              (Column.STARTED, 90), (Column.DURATION, 170), (Column.COST, 70), (Column.TURNS, 55)):
            view.setColumnWidth(column, width)
        header.setSortIndicator(Column.GROUP, Qt.SortOrder.AscendingOrder)
        view.setSortingEnabled(True)
        self.queue_view = view

    def _init_detail(self) -> None:
        self.detail = JobDetail(self.transcript_model, self)
        self.transcript_view = self.detail.transcript_view

    def _init_central(self) -> None:
        self.usage_strip = StatusStrip(self)
        self.pause_banner = PauseBanner(self)
        self.notice = NoticeLine(self)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_filter)
        queue_panel = QWidget(self)
        queue_layout = QVBoxLayout(queue_panel)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.addLayout(filters)
        queue_layout.addWidget(self.queue_view, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(queue_panel)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([380, 420])
        # The detail pane's tabs would otherwise claim 320 px and squeeze the queue in a short window.
        self.detail.setMinimumHeight(140)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.usage_strip)
        layout.addWidget(self.pause_banner)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.notice)
        self.setCentralWidget(central)

    def _init_timers(self) -> None:
        self.clock = QTimer(self)
        self.clock.setInterval(1000)

    def _connect_signals(self) -> None:
        bridge = self.bridge
        bridge.stateChanged.connect(self._apply_state)
        bridge.engineEvent.connect(self._engine_event)
        bridge.ready.connect(self._show_status)
        bridge.failed.connect(self._engine_failed)
        actions = self.actions
        actions["pause"].triggered.connect(self.toggle_pause)
        actions["tick"].triggered.connect(lambda: self.send_command({"cmd": "tick"}, "Force tick"))
        actions["new_prd"].triggered.connect(self.open_new_prd)
        actions["add_files"].triggered.connect(self._choose_files)
        actions["open_folder"].triggered.connect(lambda: self._open(self.home.prds))
        actions["settings"].triggered.connect(self.open_settings)
        actions["about"].triggered.connect(self.open_about)
        actions["quit"].triggered.connect(self.quitRequested)
        for key, (_text, command) in JOB_ACTIONS.items():
            if command is not None:
                actions[key].triggered.connect(lambda _checked=False, key=key: self._job_command(key))
        actions["open_log"].triggered.connect(self._open_log)
        actions["open_prd"].triggered.connect(lambda: self._open_selected_prd(reveal=False))
        actions["reveal"].triggered.connect(lambda: self._open_selected_prd(reveal=True))
        actions["archive"].triggered.connect(self.archive_selected)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.status_filter.currentTextChanged.connect(lambda text: self.proxy.set_statuses(STATUS_FILTERS[text]))
        self.queue_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.queue_view.customContextMenuRequested.connect(self._context_menu)
        self.detail.jobLinkActivated.connect(self.select_slug)
        self.detail.sourceChosen.connect(self._follow_source)
        self.follower.noteChanged.connect(self.detail.show_transcript_note)
        self.pause_banner.resumeRequested.connect(lambda: self.send_command({"cmd": "resume"}, "Resume"))
        self.usage_strip.settingsRequested.connect(self.open_settings)
        self.add_flow.finished.connect(self._prds_added)
        self.add_flow.failed.connect(self.show_error)
        self.clock.timeout.connect(self._tick_clock)
        self.clock.start()

    # ================================================================ the window itself

    def show_and_raise(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def accept_close(self) -> None:
        """The app has decided to quit: from now on closing really closes (QApplication.quit closes windows)."""
        self._quitting = True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 — Qt's name
        if self._quitting:
            self.follower.stop()
            event.accept()
            return
        event.ignore()
        if self.hide_on_close:
            self.hide()
        else:
            self.quitRequested.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 — Qt's name
        if _dropped_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 — Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 — Qt's name
        paths = _dropped_paths(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # ================================================================ engine → window

    def _apply_state(self, state: QueueState, changed: list[str]) -> None:
        self._state = state
        self.queue_model.apply(state, changed)
        self._show_pause(state.paused)
        if self._select_when_added in state.jobs:
            self.select_slug(self._select_when_added)
            self._select_when_added = None
        if self.selected_slug is not None and self._concerns_selected(changed):
            self._show_selected()
        self._update_job_actions()
        self._show_status()

    def _concerns_selected(self, changed: Iterable[str]) -> bool:
        job = self._state.jobs.get(self.selected_slug or "")
        related = {self.selected_slug}
        if job is not None:
            related |= {job.fix_plan_slug, job.investigation_of, *job.depends_on}
        return job is None or not related.isdisjoint(changed)

    def _show_pause(self, paused: Pause | None) -> None:
        self.pause_banner.show_pause(paused, dt.datetime.now(dt.UTC))
        action = self.actions["pause"]
        pixmap = QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause
        action.setText("Resume" if paused else "Pause")
        action.setIcon(self.style().standardIcon(pixmap))
        action.setToolTip("Let new runs start again" if paused else "Start no new runs (running jobs continue)")

    def _engine_event(self, event: EngineEvent) -> None:
        if event.event in (EventName.CONFIG_LOADED, EventName.CONFIG_INVALID):
            self._show_status()
        if event.level == "error":
            self.show_error(event.describe())

    def _engine_failed(self, message: str) -> None:
        self.show_error(f"The engine stopped: {message}")

    def _show_status(self) -> None:
        bridge = self.bridge
        self.usage_strip.show(self._state, bridge.config, bridge.cap, bridge.problems(), dt.datetime.now(dt.UTC))

    def _tick_clock(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self._show_status()
        self.pause_banner.tick(now)
        self.queue_model.tick(now)

    # ================================================================ window → engine

    def send_command(self, request: Mapping[str, Any], label: str) -> None:
        """Send a command; its answer shows in the notice line, an error for longer."""
        self.bridge.command(request, self._guarded(lambda answer: self._answered(label, answer)))

    def _answered(self, label: str, answer: Mapping[str, Any]) -> None:
        if answer.get("ok"):
            self.notice.show_message(f"{label}: done", 4000)
        else:
            self.show_error(f"{label}: {answer.get('error', 'the engine refused')}")

    def show_error(self, message: str) -> None:
        self.notice.show_message(message, MESSAGE_MS, is_error=True)

    def toggle_pause(self) -> None:
        if self._state.paused is not None:
            self.send_command({"cmd": "resume"}, "Resume")
        else:
            self.send_command({"cmd": "pause", "reason": PAUSE_REASON}, "Pause")

    def _job_command(self, key: str) -> None:
        if self.selected_slug is None:
            return
        text, command = JOB_ACTIONS[key]
        self.send_command({"cmd": command, "slug": self.selected_slug}, f"{text} {self.selected_slug}")

    def _guarded(self, method: Callable[..., None]) -> Callable[..., None]:
        """A callback that does nothing once the window is gone."""

        def call(*args: Any) -> None:
            if shiboken6.isValid(self):
                method(*args)

        return call

    # ================================================================ the selected job

    def select_slug(self, slug: str) -> None:
        row = self.queue_model.row_of(slug)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.queue_model.index(row, 0))
        if not index.isValid():  # filtered out: show everything rather than nothing
            self.filter_edit.clear()
            self.status_filter.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.queue_model.index(row, 0))
        self.queue_view.setCurrentIndex(index)
        self.queue_view.scrollTo(index)

    def selected_job(self) -> Job | None:
        return self._state.jobs.get(self.selected_slug) if self.selected_slug else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        slug = current.data(SLUG_ROLE) if current.isValid() else None
        if slug != self.selected_slug:
            self.selected_slug = slug
            self._show_selected()
            self._update_job_actions()

    def _show_selected(self) -> None:
        job = self.selected_job()
        sources = transcript_sources(self.home, job) if job is not None else []
        self.detail.show_job(job, self._state.jobs, sources)
        if job is not None:
            self._load_prd(job)

    def _load_prd(self, job: Job) -> None:
        shown = (job.slug, job.content_hash)
        if shown == self._prd_shown:
            return
        self._prd_shown = shown
        slug, path = job.slug, self.home.prds / f"{job.slug}.md"
        in_background(lambda: read_prd_body(slug, path), self._prd_read)

    def _prd_read(self, result: tuple[str, str | None, str] | None, error: BaseException | None) -> None:
        if result is not None:
            self.detail.show_prd_body(*result)

    def _follow_source(self, source: TranscriptSource | None) -> None:
        if source is None:
            self.follower.follow(None, False)
        else:
            self.follower.follow(source.path, source.live)

    def _update_job_actions(self) -> None:
        job = self.selected_job()
        enabled = applicable_actions(job, bool(self.detail.sources)) if job is not None else set()
        for key in JOB_ACTIONS:
            self.actions[key].setEnabled(key in enabled)

    def _context_menu(self, position: QPoint) -> None:
        index = self.queue_view.indexAt(position)
        if not index.isValid():
            return
        self.queue_view.setCurrentIndex(index)
        self.job_menu.popup(self.queue_view.viewport().mapToGlobal(position))

    def archive_selected(self) -> None:
        if self.selected_slug is not None:
            self.send_command({"cmd": "archive", "slug": self.selected_slug}, f"Archive {self.selected_slug}")

    def _open_log(self) -> None:
        source = self.detail.source or (self.detail.sources[0] if self.detail.sources else None)
        if source is not None:
            self._open(source.path)

    def _open_selected_prd(self, reveal: bool) -> None:
        if self.selected_slug is None:
            return
        path = self.home.prds / f"{self.selected_slug}.md"
        opened = reveal_path(path) if reveal else open_path(path)
        if not opened:
            self.show_error(f"Could not open {path}")

    def _open(self, path: Path) -> None:
        if not open_path(path):
            self.show_error(f"Could not open {path}")

    # ================================================================ adding PRDs and dialogs

    def add_paths(self, paths: list[Path]) -> None:
        """Add PRD files or folders (what a drop does): validated and copied off the GUI thread."""
        self.notice.show_message(f"Adding {len(paths)} item(s)…", 4000)
        self.add_flow.start(paths)

    def _choose_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, "Add PRD files", str(Path.home()), "PRDs (*.md)")
        if names:
            self.add_paths([Path(name) for name in names])

    def _prds_added(self, results: list) -> None:
        added = [result for result in results if isinstance(result, Added)]
        if added:
            self.notice.show_message("Added " + ", ".join(result.target.name for result in added), 6000)
        if len(added) == 1:
            self._select_when_added = slug_of(added[0].target.name)

    def open_new_prd(self) -> None:
        dialog = NewPrdDialog(self.home, lambda: self.bridge.config, self)
        dialog.created.connect(self._new_prd_created)
        dialog.finished.connect(dialog.deleteLater)
        self.new_prd_dialog = dialog
        dialog.open()

    def _new_prd_created(self, added: Added) -> None:
        self.notice.show_message(f"Created {added.target.name}", 6000)
        self._select_when_added = slug_of(added.target.name)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.home.config, self.bridge.config, self.bridge.settings_problems(), self)
        dialog.saved.connect(self._settings_saved)
        dialog.finished.connect(dialog.deleteLater)
        self.settings_dialog = dialog
        dialog.open()

    def open_about(self) -> None:
        dialog = AboutDialog(self.home, self.bridge.config.agent.command, self)
        dialog.finished.connect(dialog.deleteLater)
        self.about_dialog = dialog
        dialog.open()

    def _settings_saved(self, _config: object) -> None:
        self.notice.show_message("Settings saved; the engine applies them within a second", 6000)


def _dropped_paths(urls: Iterable[Any]) -> list[Path]:
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
