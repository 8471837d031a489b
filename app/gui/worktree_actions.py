"""Discard (asked first for a job that needs review), and opening the selected job's worktree in the
file manager or in a terminal (docs/BEHAVIOUR.md section 13, "In the app").

Discard is one command for two things, as the engine dispatches it on what the slug names: a fix
plan awaiting approval is put aside at once (nothing is lost), a job's worktree and branch are
removed only once the user confirms. The terminal is looked for and started off the GUI thread.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.queue import Job
from app.gui.desktop import in_background, open_path

# Tried in this order after $TERMINAL; each opens in the folder it is started in unless told below.
TERMINALS = ("x-terminal-emulator", "gnome-terminal", "konsole", "xfce4-terminal", "mate-terminal", "kitty",
             "alacritty", "foot", "xterm")
_WORKDIR_ARGS: Mapping[str, tuple[str, ...]] = {
    "gnome-terminal": ("--working-directory={}",),
    "xfce4-terminal": ("--working-directory={}",),
    "mate-terminal": ("--working-directory={}",),
    "konsole": ("--workdir", "{}"),
}
NO_TERMINAL = ("No terminal program found to open {path} in: set TERMINAL to your terminal's command "
               "(or install one of x-terminal-emulator, gnome-terminal, konsole, xterm)")


def terminal_command(folder: str, environ: Mapping[str, str]) -> list[str] | None:
    """The command that opens a terminal in `folder`: $TERMINAL, else the first known one installed."""
    if sys.platform == "darwin":
        return ["open", "-a", "Terminal", folder]
    for words in ([*shlex.split(environ.get("TERMINAL", ""))], *([name] for name in TERMINALS)):
        program = shutil.which(words[0], path=environ.get("PATH")) if words else None
        if program is not None:
            extra = _WORKDIR_ARGS.get(os.path.basename(program), ())
            return [program, *words[1:], *(arg.format(folder) for arg in extra)]
    return None


def open_terminal(folder: str, environ: Mapping[str, str]) -> str | None:
    """Blocking (a PATH search and a detached start): the program started, or None when there is none."""
    command = terminal_command(folder, environ)
    if command is None:
        return None
    started, _pid = QProcess.startDetached(command[0], command[1:], folder)
    if not started:
        raise OSError(f"{command[0]} could not be started")
    return command[0]


class DiscardQuestion(QMessageBox):
    """Open it with `open()`; on `finished`, `confirmed()` says whether to discard `job`'s worktree and branch."""

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slug = job.slug
        workspace = job.workspace
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Discard the job's work")
        self.setText(f"Discard the work of {job.slug}?")
        where = f"Its worktree {workspace.path} and its branch {workspace.branch} are removed" if workspace else (
            "Its worktree and branch are removed")
        self.setInformativeText(f"{where}, with every change in them, and the job becomes cancelled. "
                                "The PRD stays: re-run it to start again.")
        self.discard_button = self.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)

    def confirmed(self) -> bool:
        return self.clickedButton() is self.discard_button


class WorktreeActions(QObject):
    """Carries out Discard, Open worktree and Open worktree in terminal for the window's selected job."""

    def __init__(self, window: QWidget, actions: Mapping[str, QAction], selected: Callable[[], Job | None],
                 held: Callable[[str], bool], send: Callable[[Mapping[str, Any], str], None],
                 error: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window, self._selected, self._held, self._send, self._error = window, selected, held, send, error
        actions["discard"].triggered.connect(self.discard)
        actions["open_worktree"].triggered.connect(self.open_worktree)
        actions["open_terminal"].triggered.connect(self.open_terminal)

    def discard(self) -> None:
        job = self._selected()
        if job is None:
            return
        if self._held(job.slug):
            self._send({"cmd": "discard", "slug": job.slug}, f"Discard {job.slug}")
            return
        question = DiscardQuestion(job, self._window)
        question.finished.connect(lambda _result: self._discard_answered(question))
        question.open()

    def _discard_answered(self, question: DiscardQuestion) -> None:
        question.deleteLater()
        if question.confirmed():
            self._send({"cmd": "discard", "slug": question.slug}, f"Discard {question.slug}")

    def _worktree(self) -> str | None:
        job = self._selected()
        return job.workspace.path if job is not None and job.workspace is not None else None

    def open_worktree(self) -> None:
        folder = self._worktree()
        if folder is not None and not open_path(Path(folder)):
            self._error(f"Could not open {folder}")

    def open_terminal(self) -> None:
        folder = self._worktree()
        if folder is None:
            return
        environ = dict(os.environ)
        in_background(lambda: (folder, open_terminal(folder, environ)), self._terminal_started)

    def _terminal_started(self, result: tuple[str, str | None] | None, error: BaseException | None) -> None:
        if result is None:
            self._error(f"Could not open a terminal: {error}")
        elif result[1] is None:
            self._error(NO_TERMINAL.format(path=result[0]))
