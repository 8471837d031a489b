"""What a worktree job changed (docs/BEHAVIOUR.md section 13, "In the app"): the files changed since its
run started, each with its added and removed lines, and one file's diff, read with the `git` program.

While the job's worktree exists (running, or kept after a failure or for review) the worktree is
compared with the run's start, so uncommitted and untracked work shows too; once it is gone (merged,
or removed by hand) the job's branch is. Blocking, with git's timeout: the window calls these through
app.gui.desktop.in_background, never on the GUI thread. A diff longer than MAX_DIFF_CHARS is cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.workspace import Workspace, missing_reason
from app.engine.api import git
from app.paths import read_regular_file

MAX_DIFF_CHARS = 2_000_000
MAX_UNTRACKED = 500  # new files counted one by one; more are listed without their lines
READ_TIMEOUT = 20.0  # seconds for one git command
_DIFF = ("diff", "--no-color", "--no-ext-diff", "--no-renames")


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int | None  # lines; None for a binary file (or an untracked one not counted)
    removed: int | None
    untracked: bool = False  # a new file git does not track yet


@dataclass(frozen=True, slots=True)
class Changes:
    files: tuple[FileChange, ...] = ()
    in_worktree: bool = False  # read from the worktree, uncommitted work included
    note: str = ""  # what is missing, said to the user


@dataclass(frozen=True, slots=True)
class FileDiff:
    path: str
    text: str
    capped: bool = False


def read_changes(ws: Workspace) -> Changes:
    """The files changed between the run's start and the worktree (or, without one, the branch tip)."""
    if not os.path.isdir(ws.repo):
        return Changes(note=f"The repository {ws.repo} is gone: there is nothing to compare.")
    if os.path.isdir(ws.path):
        tracked = _numstat(git(ws.path, *_DIFF, "--numstat", "-z", ws.base, timeout=READ_TIMEOUT).stdout)
        listed = git(ws.path, "ls-files", "-z", "--others", "--exclude-standard", timeout=READ_TIMEOUT).stdout
        new = [_untracked(ws.path, path, counted=n < MAX_UNTRACKED) for n, path in enumerate(listed.split("\0"))
               if path]
        return Changes(tuple(sorted(tracked + new, key=lambda change: change.path)), in_worktree=True)
    if not _branch_exists(ws):
        return Changes(note=_sentence(missing_reason("branch", ws.branch)))
    tip = f"refs/heads/{ws.branch}"
    files = _numstat(git(ws.repo, *_DIFF, "--numstat", "-z", ws.base, tip, timeout=READ_TIMEOUT).stdout)
    if ws.merged:
        note = f"Merged (commit {(ws.merge_commit or '?')[:10]}); these are its branch's changes."
    else:
        note = _sentence(missing_reason("worktree", ws.path)) + " These are its branch's commits."
    return Changes(tuple(files), note=note)


def read_diff(ws: Workspace, change: FileChange, in_worktree: bool) -> FileDiff:
    """`change`'s diff against the run's start: in the worktree, or on the branch."""
    if change.untracked:  # exits 1 when the files differ, which they do
        text = git(ws.path, *_DIFF, "--no-index", "--", os.devnull, change.path, timeout=READ_TIMEOUT,
                   check=False).stdout
    elif in_worktree:
        text = git(ws.path, *_DIFF, ws.base, "--", change.path, timeout=READ_TIMEOUT).stdout
    else:
        text = git(ws.repo, *_DIFF, ws.base, f"refs/heads/{ws.branch}", "--", change.path,
                   timeout=READ_TIMEOUT).stdout
    if len(text) <= MAX_DIFF_CHARS:
        return FileDiff(change.path, text)
    return FileDiff(change.path, text[:text.rfind("\n", 0, MAX_DIFF_CHARS) + 1], capped=True)


def _branch_exists(ws: Workspace) -> bool:
    done = git(ws.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{ws.branch}^{{commit}}",
               timeout=READ_TIMEOUT, check=False)
    return done.returncode == 0


def _numstat(text: str) -> list[FileChange]:
    """`git diff --numstat -z --no-renames`: "added<TAB>removed<TAB>path" records ("-" for a binary file)."""
    changes = []
    for record in text.split("\0"):
        parts = record.split("\t", 2)
        if len(parts) == 3:
            added, removed, path = parts
            changes.append(FileChange(path, _count(added), _count(removed)))
    return changes


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _untracked(worktree: str, path: str, counted: bool) -> FileChange:
    """A new file: all its lines are added (a binary or unreadable one counts none)."""
    data = read_regular_file(Path(worktree, path), MAX_DIFF_CHARS).data if counted else None
    if data is not None and len(data) > MAX_DIFF_CHARS:  # too long to read here: git counts it
        done = git(worktree, *_DIFF, "--numstat", "-z", "--no-index", "--", os.devnull, path, timeout=READ_TIMEOUT,
                   check=False)
        counts = _numstat(done.stdout)
        return replace(counts[0], path=path, untracked=True) if counts else FileChange(path, None, None, True)
    lines = None if data is None or b"\0" in data else data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
    return FileChange(path, lines, 0 if lines is not None else None, untracked=True)


def _sentence(reason: str) -> str:
    """missing_reason's words ("its branch … is gone …") as a sentence of their own."""
    return f"The job's {reason.removeprefix('its ')}."
