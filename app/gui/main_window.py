"""The main window: the engine's view and remote control.

It shows what the bridge reports (the queue, the pause, the usage meter, transcripts) and turns the
user's clicks into engine commands; it never changes the queue itself. Reading files (PRDs, transcripts)
and copying dropped files happen off the GUI thread. The clock that moves countdowns and durations and
the live transcript run only while the window is shown; shown again, it catches up at once. Its size,
splitter and column widths come back as they were left in this home (app.gui.window_state).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QHideEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import QFileDialog, QMainWindow, QSplitter, QVBoxLayout, QWidget

from app.core.event_names import EventName
from app.core.prd import MAX_PRD_BYTES, prd_text, slug_of
from app.core.queue import Job, Pause, PauseReason, QueueState
from app.engine.api import Added, EngineEvent, Snapshot
from app.gui.bridge import EngineBridge
from app.gui.desktop import in_background, open_path, reveal_path
from app.gui.dialogs.about import AboutDialog
from app.gui.dialogs.add_prds import AddPrdsFlow
from app.gui.dialogs.archive import ArchiveQuestion
from app.gui.dialogs.help import PrdFormatDialog, ShortcutsDialog
from app.gui.dialogs.new_prd import NewPrdDialog
from app.gui.dialogs.settings import SettingsDialog
from app.gui.formatting import error_text
from app.gui.queue_model import QueueModel
from app.gui.transcript import TranscriptFollower, TranscriptSource, transcript_sources
from app.gui.transcript_model import TranscriptModel
from app.gui.user_actions import (
    JOB_ACTIONS,
    add_menus,
    add_toolbar,
    applicable_actions,
    bind_queue_keys,
    make_actions,
    shortcut_rows,
    show_paused,
    tint_icons,
)
from app.gui.views import Views
from app.gui.widgets.drop_overlay import DropOverlay
from app.gui.widgets.job_detail import JobDetail
from app.gui.widgets.notice_line import NoticeLine
from app.gui.widgets.pause_banner import PauseBanner
from app.gui.widgets.queue_panel import QueuePanel
from app.gui.widgets.safety_note import SafetyNote
from app.gui.widgets.setup_banner import SetupBanner
from app.gui.widgets.status_strip import StatusStrip
from app.gui.window_state import WindowMemory
from app.gui.worktree_actions import WorktreeActions
from app.paths import read_regular_file

PAUSE_REASON = "paused from the window"
MESSAGE_MS = 15000


def read_prd_body(slug: str, path: Path) -> tuple[str, str | None, str]:
    """Blocking (briefly: never on a FIFO or a device): (slug, the PRD's text or None, why it could not be read)."""
    read = read_regular_file(path, MAX_PRD_BYTES)
    if read.data is not None:
        return slug, prd_text(read.data), ""
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
        self._snapshot = bridge.snapshot
        self._prd_shown: tuple[str, str, bool] | None = None
        self._setup_paused = False
        self._select_when_added: str | None = None
        self.setWindowTitle(f"Overnight — {self.home.root}")
        self.setAcceptDrops(True)
        self._init_models()
        self._init_actions()
        self._init_panes()
        self._init_central()
        self._init_timers()
        self._connect_signals()
        self.memory = WindowMemory(self.home.root)
        if not self.memory.restore(self, self.splitter, self.queue_panel.view.horizontalHeader()):
            self.resize(1200, 800)
        self._apply_state(bridge.snapshot, list(bridge.state.jobs))
        self.setup_banner.check()

    # ================================================================ building

    def _init_models(self) -> None:
        self.queue_model = QueueModel(self)
        self.transcript_model = TranscriptModel(parent=self)
        self.follower = TranscriptFollower(self.transcript_model, self)
        self.follower.suspend()  # until the window is shown
        self.add_flow = AddPrdsFlow(self.home, lambda: self.bridge.config, self)

    def _init_actions(self) -> None:
        self.user_actions = make_actions(self, self.home.prds)
        self.job_menu = add_menus(self, self.user_actions)
        add_toolbar(self, self.user_actions)
        self.views = Views(self, self.user_actions, self.home)

    def _init_panes(self) -> None:
        self.queue_panel = QueuePanel(self.queue_model, self)
        new_prd_keys = self.user_actions["new_prd"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.queue_panel.set_new_prd_keys(new_prd_keys)
        bind_queue_keys(self.queue_panel.view, self.user_actions)
        self.detail = JobDetail(self.transcript_model, self)

    def _init_central(self) -> None:
        self.usage_strip = StatusStrip(self)
        self.pause_banner = PauseBanner(self)
        self.setup_banner = SetupBanner(self.home, self.bridge.environ, self)
        self.safety_note = SafetyNote(self.home, self)
        self.notice = NoticeLine(self)
        splitter = self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("queueDetailSplitter")
        splitter.addWidget(self.queue_panel)
        splitter.addWidget(self.detail)
        splitter.setSizes([380, 420])
        # The detail pane's tabs would otherwise claim 320 px and squeeze the queue in a short window.
        self.detail.setMinimumHeight(140)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.usage_strip)
        layout.addWidget(self.pause_banner)
        layout.addWidget(self.setup_banner)
        layout.addWidget(self.safety_note)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.notice)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)

    def _init_timers(self) -> None:
        self.clock = QTimer(self)  # started while the window is shown
        self.clock.setInterval(1000)

    def _connect_signals(self) -> None:
        bridge = self.bridge
        bridge.stateChanged.connect(self._apply_state)
        bridge.engineEvent.connect(self._engine_event)
        bridge.ready.connect(self._show_status)
        bridge.failed.connect(self._engine_failed)
        actions = self.user_actions
        actions["pause"].triggered.connect(self.toggle_pause)
        actions["tick"].triggered.connect(lambda: self.send_command({"cmd": "tick"}, "Start next batch now"))
        actions["new_prd"].triggered.connect(self.open_new_prd)
        actions["add_files"].triggered.connect(self._choose_files)
        actions["open_folder"].triggered.connect(lambda: self._open(self.home.prds))
        actions["settings"].triggered.connect(self.open_settings)
        actions["about"].triggered.connect(self.open_about)
        actions["prd_format"].triggered.connect(self.open_prd_format)
        actions["shortcuts"].triggered.connect(self.open_shortcuts)
        actions["find"].triggered.connect(self.focus_filter)
        actions["quit"].triggered.connect(self.quitRequested)
        for key, (_text, command) in JOB_ACTIONS.items():
            if command is not None:
                actions[key].triggered.connect(lambda _checked=False, key=key: self._job_command(key))
        actions["open_log"].triggered.connect(self._open_log)
        actions["open_prd"].triggered.connect(lambda: self._open_selected_prd(reveal=False))
        actions["reveal"].triggered.connect(lambda: self._open_selected_prd(reveal=True))
        actions["archive"].triggered.connect(self.archive_selected)
        WorktreeActions(self, actions, self.selected_job, self.queue_model.is_held, self.send_command, self.show_error)
        self.detail.changes.loaded.connect(self._update_job_actions)
        self.queue_panel.currentSlugChanged.connect(self._select)
        self.queue_panel.contextMenuRequested.connect(lambda where: self.job_menu.popup(where))
        self.queue_panel.prdFormatRequested.connect(self.open_prd_format)
        self.detail.jobLinkActivated.connect(self.queue_panel.select_slug)
        self.detail.sourceChosen.connect(self._follow_source)
        self.detail.editRequested.connect(lambda: self._open_selected_prd(reveal=False))
        self.follower.noteChanged.connect(self.detail.show_transcript_note)
        self.pause_banner.resumeRequested.connect(lambda: self.send_command({"cmd": "resume"}, "Resume"))
        self.setup_banner.message.connect(lambda text, is_error: self.notice.show_message(text, MESSAGE_MS, is_error))
        self.usage_strip.settingsRequested.connect(self.open_settings)
        self.add_flow.finished.connect(self._prds_added)
        self.add_flow.failed.connect(self.show_error)
        self.clock.timeout.connect(self._refresh_clock)

    # ================================================================ the window itself

    def show_and_raise(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def accept_close(self) -> None:
        """The app has decided to quit: from now on closing really closes (QApplication.quit closes windows)."""
        self._quitting = True

    def focus_filter(self) -> None:
        self.queue_panel.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.queue_panel.filter_edit.selectAll()

    def changeEvent(self, event: QEvent) -> None:
        """The toolbar's icons follow the palette (a dark theme turned on while the app runs)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            tint_icons(self.user_actions, self)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh_clock()
        self.clock.start()
        self.follower.resume()

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden (to the tray, or minimized): nothing to repaint and no transcript to read."""
        super().hideEvent(event)
        self.clock.stop()
        self.follower.suspend()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.memory.save(self, self.splitter, self.queue_panel.view.horizontalHeader())
        if self._quitting:
            self.follower.stop()
            event.accept()
            return
        event.ignore()
        if self.hide_on_close:
            self.hide()
        else:
            self.quitRequested.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _accept_files(event):
            self.drop_overlay.cover()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        _accept_files(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        if _accept_files(event):
            self.add_paths(_dropped_paths(event.mimeData().urls()))

    # ================================================================ engine → window

    def _apply_state(self, snapshot: Snapshot, changed: list[str]) -> None:
        state = snapshot.state
        self._snapshot, self._state = snapshot, state
        self.queue_model.apply(snapshot, changed)
        self._show_pause(state.paused)
        added = self._select_when_added
        if added is not None and added in state.jobs:
            self.queue_panel.select_slug(added)
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
        if (paused is not None and paused.reason is PauseReason.SETUP) != self._setup_paused:
            self._setup_paused = not self._setup_paused
            self.setup_banner.check()  # the engine has found the agent, or lost it
        self.pause_banner.show_pause(paused, dt.datetime.now(dt.UTC))
        show_paused(self.user_actions["pause"], paused is not None, self)

    def _engine_event(self, event: EngineEvent) -> None:
        if event.event in (EventName.CONFIG_LOADED, EventName.CONFIG_INVALID):
            self._show_status()
        if event.level == "error":
            self.show_error(error_text(event))

    def _engine_failed(self, message: str) -> None:
        self.show_error(f"The engine stopped: {message}")

    def _show_status(self) -> None:
        self.usage_strip.show_state(self._snapshot, dt.datetime.now(dt.UTC))

    def _refresh_clock(self) -> None:
        """What moves with the clock: the gate and usage countdowns, the resume countdown, running durations."""
        now = dt.datetime.now(dt.UTC)
        self._show_status()
        self.pause_banner.refresh(now)
        self.queue_model.refresh(now)

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

    def selected_job(self) -> Job | None:
        """The selected row's job (a fix plan awaiting approval shows as one of its own)."""
        if not self.selected_slug:
            return None
        return self._state.jobs.get(self.selected_slug) or self._snapshot.held_plans().get(self.selected_slug)

    def _prd_path(self, slug: str) -> Path:
        """The row's PRD: in prds/, or under fix-plans/ while it awaits approval."""
        held = self._snapshot.held_path(slug)
        return Path(held) if held else self.home.prds / f"{slug}.md"

    def _select(self, slug: str | None) -> None:
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
        shown = (job.slug, job.content_hash, job.error is None)  # an invalid PRD is shown as written
        if shown == self._prd_shown:
            return
        self._prd_shown = shown
        slug, path = job.slug, self._prd_path(job.slug)
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
        held = job is not None and self.queue_model.is_held(job.slug)
        worktree = self.detail.changes.worktree_found
        enabled = applicable_actions(job, bool(self.detail.sources), held, worktree) if job is not None else set()
        for key in JOB_ACTIONS:
            self.user_actions[key].setEnabled(key in enabled)

    def archive_selected(self) -> None:
        """Ask first: the PRD leaves the queue (its file is moved, never deleted)."""
        if self.selected_slug is None:
            return
        question = ArchiveQuestion(self.home, self.selected_slug, self)
        question.finished.connect(lambda _result: self._archive_answered(question))
        question.open()

    def _archive_answered(self, question: ArchiveQuestion) -> None:
        question.deleteLater()
        if question.confirmed():
            self.send_command({"cmd": "archive", "slug": question.slug}, f"Archive {question.slug}")

    def _open_log(self) -> None:
        source = self.detail.source or (self.detail.sources[0] if self.detail.sources else None)
        if source is not None:
            self._open(source.path)

    def _open_selected_prd(self, reveal: bool) -> None:
        if self.selected_slug is None:
            return
        path = self._prd_path(self.selected_slug)
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
        dialog.open()

    def _new_prd_created(self, added: Added) -> None:
        self.notice.show_message(f"Created {added.target.name}", 6000)
        self._select_when_added = slug_of(added.target.name)

    def open_settings(self) -> None:
        bridge, snapshot = self.bridge, self.bridge.snapshot
        dialog = SettingsDialog(self.home.config, snapshot.config, snapshot.settings_problems, self, bridge.environ)
        dialog.saved.connect(self._settings_saved)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_about(self) -> None:
        dialog = AboutDialog(self.home, self.bridge.config.agent.command, self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_prd_format(self) -> None:
        dialog = PrdFormatDialog(self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_shortcuts(self) -> None:
        dialog = ShortcutsDialog(shortcut_rows(self.user_actions), self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _settings_saved(self, _config: object) -> None:
        self.notice.show_message("Settings saved; the engine applies them within a second", 6000)


def _dropped_paths(urls: Iterable[Any]) -> list[Path]:
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]


def _accept_files(event: QDropEvent) -> bool:
    """A drag (entering, moving or dropping) is welcome when it carries local files, and always as a
    copy: a move would let the file manager delete the user's original once the drop is done."""
    if not _dropped_paths(event.mimeData().urls()):
        event.ignore()
        return False
    event.setDropAction(Qt.DropAction.CopyAction)
    event.accept()
    return True
