"""What the user can do from the main window: its actions by key, and the menus and toolbar that show them.

The window connects each action to what it does (MainWindow._connect_signals); the job actions
apply to the selected job and are enabled only where `applicable_actions` says they make sense.
The Job menu doubles as the queue's context menu.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle

from app.core.queue import TERMINAL, Job, Status

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


def make_actions(window: QMainWindow, prds: Path) -> dict[str, QAction]:
    """Every action of the window, by key; `prds` is the folder "Open folder" opens."""
    icon = window.style().standardIcon
    pixmap = QStyle.StandardPixmap
    actions = {
        "pause": QAction(icon(pixmap.SP_MediaPause), "Pause", window),
        "tick": QAction(icon(pixmap.SP_MediaSeekForward), "Start next batch now", window),
        "new_prd": QAction(icon(pixmap.SP_FileIcon), "New PRD…", window),
        "add_files": QAction(icon(pixmap.SP_DialogOpenButton), "Add files…", window),
        "open_folder": QAction(icon(pixmap.SP_DirOpenIcon), "Open folder", window),
        "settings": QAction(icon(pixmap.SP_FileDialogDetailedView), "Settings…", window),
        "about": QAction("About Overnight", window),
        "quit": QAction("Quit", window),
    }
    actions["tick"].setToolTip("Start the next batch now, even if usage or the fire policy holds new runs;"
                               " clears a pause")
    actions["open_folder"].setToolTip(f"Open {prds}")
    actions["new_prd"].setShortcut(QKeySequence.StandardKey.New)
    actions["add_files"].setShortcut(QKeySequence.StandardKey.Open)
    actions["quit"].setShortcut(QKeySequence("Ctrl+Q"))
    actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    for key, (text, _command) in JOB_ACTIONS.items():
        actions[key] = QAction(text, window)
    actions["archive"].setToolTip("Move the PRD file into prds-archive/ (never deleted)")
    return actions


def add_menus(window: QMainWindow, actions: Mapping[str, QAction]) -> QMenu:
    """File, Queue, Job and Help in the window's menu bar; returns the Job menu."""
    file_menu = window.menuBar().addMenu("&File")
    for key in ("new_prd", "add_files", "open_folder", "settings"):
        file_menu.addAction(actions[key])
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    queue_menu = window.menuBar().addMenu("&Queue")
    queue_menu.addAction(actions["pause"])
    queue_menu.addAction(actions["tick"])
    job_menu = window.menuBar().addMenu("&Job")
    for key in JOB_ACTIONS:
        if key in ("open_log", "archive"):
            job_menu.addSeparator()
        job_menu.addAction(actions[key])
    window.menuBar().addMenu("&Help").addAction(actions["about"])
    return job_menu


def add_toolbar(window: QMainWindow, actions: Mapping[str, QAction]) -> None:
    toolbar = window.addToolBar("Queue")
    toolbar.setObjectName("queueToolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for key in ("pause", "tick", "new_prd", "open_folder", "settings"):
        toolbar.addAction(actions[key])


def show_paused(action: QAction, paused: bool, style: QStyle) -> None:
    """The pause action resumes while the queue is paused."""
    pixmap = QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause
    action.setText("Resume" if paused else "Pause")
    action.setIcon(style.standardIcon(pixmap))
    action.setToolTip("Let new runs start again" if paused else "Start no new runs (running jobs continue)")
