"""What the user can do from the main window: its actions by key, and the menus and toolbar that show them.

The window connects each action to what it does (MainWindow._connect_signals); the job actions
apply to the selected job and are enabled only where `applicable_actions` says they make sense.
The Job menu doubles as the queue's context menu. Each action carries its keyboard shortcut;
the Help menu's list of shortcuts is read from the actions (`shortcut_rows`). The icons are glyphs
painted in the palette's text colour (`tint_icons` paints them again on a palette change).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from app.core.queue import RERUNNABLE, Job, Status
from app.gui.icons import glyph_icon

# key: (text, command sent to the engine or None when the window handles it)
JOB_ACTIONS: Mapping[str, tuple[str, str | None]] = {
    "run": ("Run now", "run"),
    "cancel": ("Cancel", "cancel"),
    "reset": ("Reset to pending", "reset"),
    "skip": ("Skip", "skip"),
    "rerun": ("Re-run", "rerun"),
    "approve": ("Approve", "approve"),
    "accept": ("Accept", "accept"),
    "merge": ("Merge again", "merge"),
    "discard": ("Discard", None),  # a held fix plan, or a job's review: app.gui.worktree_actions sends it
    "open_log": ("Open log", None),
    "open_prd": ("Open PRD", None),
    "reveal": ("Reveal in folder", None),
    "open_worktree": ("Open worktree", None),
    "open_terminal": ("Open worktree in terminal", None),
    "archive": ("Archive…", None),
}

# The job actions whose keys only act while the queue table has the focus (the filter box keeps Enter and Del).
QUEUE_KEYS = ("open_prd", "archive")


def applicable_actions(job: Job, has_log: bool, held: bool = False, worktree: bool = False) -> set[str]:
    """The job actions that make sense for `job` now (the engine has the last word); `held`: the
    row is a fix plan awaiting approval, which is approved or discarded (and its file opened);
    `worktree`: the job's worktree exists (as last read)."""
    if held:
        return {"approve", "discard", "open_prd", "reveal"}
    busy = job.is_busy
    stopping = job.current is not None and job.current.stopping is not None
    settled = job.status in RERUNNABLE and not busy
    review = job.status is Status.NEEDS_REVIEW and not busy
    checks = {
        "run": job.status is Status.PENDING and not busy,
        "cancel": job.status in (Status.PENDING, Status.RUNNING) and not stopping,
        "reset": settled,
        "skip": job.status in (Status.PENDING, Status.FAILED) and not busy,
        "rerun": settled,
        "accept": review,
        "merge": review,
        "discard": review,
        "open_log": has_log,
        "open_prd": not job.file_gone,
        "reveal": not job.file_gone,
        "open_worktree": worktree,
        "open_terminal": worktree,
        "archive": not busy and job.status is not Status.RUNNING and not job.file_gone,
    }
    return {key for key, applies in checks.items() if applies}


def make_actions(window: QMainWindow, prds: Path) -> dict[str, QAction]:
    """Every action of the window, by key; `prds` is the folder "Open folder" opens."""
    actions = {
        "pause": QAction("Pause", window),
        "tick": QAction("Start next batch now", window),
        "new_prd": QAction("New PRD…", window),
        "add_files": QAction("Add files…", window),
        "open_folder": QAction("Open folder", window),
        "settings": QAction("Settings…", window),
        "find": QAction("Filter the queue", window),
        "report": QAction("Report", window),
        "history": QAction("History", window),
        "prd_format": QAction("PRD format", window),
        "shortcuts": QAction("Keyboard shortcuts", window),
        "about": QAction("About Overnight", window),
        "quit": QAction("Quit", window),
    }
    for key, glyph in (("pause", "pause"), ("tick", "next-batch"), ("new_prd", "new"),
                       ("add_files", "add-files"), ("open_folder", "folder"), ("settings", "settings")):
        set_icon(actions[key], glyph, window)
    actions["tick"].setToolTip("Start the next batch now, even if usage or the fire policy holds new runs;"
                               " clears a pause")
    actions["open_folder"].setToolTip(f"Open {prds}")
    actions["report"].setToolTip("The report written when the queue last finished, and the earlier ones")
    actions["history"].setToolTip("Runs, cost and utilization over the last 30 days")
    actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    for key, (text, _command) in JOB_ACTIONS.items():
        actions[key] = QAction(text, window)
    actions["archive"].setToolTip("Move the PRD file into prds-archive/ (never deleted)")
    for key, keys in SHORTCUTS.items():
        actions[key].setShortcuts([QKeySequence(sequence) for sequence in keys])
    actions["approve"].setToolTip("Move the fix plan into prds/, where it runs like any PRD")
    actions["discard"].setToolTip("A fix plan awaiting approval: put it aside in fix-plans/discarded/ (never "
                                  "deleted). A job that needs review: remove its worktree and branch (asks first)")
    actions["accept"].setToolTip("The job's work counts as done (after a conflict: once you merged its branch)")
    actions["merge"].setToolTip("Try the merge of the job's branch into the integration branch again")
    return actions


# The keys of each action, in the order the Keyboard shortcuts list shows them.
SHORTCUTS: Mapping[str, tuple[QKeySequence.StandardKey | str, ...]] = {
    "new_prd": (QKeySequence.StandardKey.New,),
    "add_files": (QKeySequence.StandardKey.Open,),
    "find": (QKeySequence.StandardKey.Find,),
    "pause": ("Ctrl+P",),
    "tick": ("Ctrl+T",),
    "settings": ("Ctrl+,",),
    "open_prd": ("Return", "Enter"),
    "rerun": ("Ctrl+R",),
    "report": ("Ctrl+Shift+R",),
    "history": ("Ctrl+Shift+H",),
    "archive": ("Del",),
    "quit": ("Ctrl+Q",),
}


def bind_queue_keys(queue: QWidget, actions: Mapping[str, QAction]) -> None:
    """The QUEUE_KEYS actions' shortcuts act only while `queue` (the table) has the focus."""
    for key in QUEUE_KEYS:
        actions[key].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        queue.addAction(actions[key])


def shortcut_rows(actions: Mapping[str, QAction]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action that has a shortcut, in the order of SHORTCUTS."""
    rows = []
    for key in SHORTCUTS:
        action = actions[key]
        keys = ", ".join(sequence.toString(QKeySequence.SequenceFormat.NativeText) for sequence in action.shortcuts())
        what = action.text().replace("&", "").rstrip("…")
        if key == "pause":
            what = "Pause or resume"
        if key in QUEUE_KEYS:
            what += " (the selected job, in the queue)"
        elif key in JOB_ACTIONS:
            what += " (the selected job)"
        rows.append((keys, what))
    return rows


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
    queue_menu.addSeparator()
    queue_menu.addAction(actions["find"])
    queue_menu.addSeparator()
    queue_menu.addAction(actions["report"])
    queue_menu.addAction(actions["history"])
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction(actions["prd_format"])
    help_menu.addAction(actions["shortcuts"])
    help_menu.addSeparator()
    help_menu.addAction(actions["about"])
    return job_menu


def add_toolbar(window: QMainWindow, actions: Mapping[str, QAction]) -> None:
    toolbar = window.addToolBar("Queue")
    toolbar.setObjectName("queueToolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for key in ("pause", "tick", "new_prd", "open_folder", "settings"):
        toolbar.addAction(actions[key])


def show_paused(action: QAction, paused: bool, widget: QWidget) -> None:
    """The pause action resumes while the queue is paused."""
    action.setText("Resume" if paused else "Pause")
    glyph = "resume" if paused else "pause"
    if action.data() != glyph:  # called at every change of the queue: paint only when it turns
        set_icon(action, glyph, widget)
    action.setToolTip("Let new runs start again" if paused else "Start no new runs (running jobs continue)")


def set_icon(action: QAction, glyph: str, widget: QWidget) -> None:
    """The `glyph` (app.gui.icons.glyph_icon) in `widget`'s text colour; the action keeps its name for `tint_icons`."""
    action.setData(glyph)
    action.setIcon(glyph_icon(glyph, widget.palette().color(QPalette.ColorRole.WindowText)))


def tint_icons(actions: Mapping[str, QAction], widget: QWidget) -> None:
    """Paint the icons again in `widget`'s text colour (after its palette changed)."""
    for action in actions.values():
        if isinstance(action.data(), str):
            set_icon(action, action.data(), widget)
