"""Where a `workspace: worktree` job works, and the names Overnight gives its git things
(docs/BEHAVIOUR.md section 13): pure naming, no git calls.

A job runs in its own worktree on its own branch under `overnight/`; when it completes, that
branch is merged into the repo's integration branch. The engine's `worktrees` module does the
git work; this module says what things are called and what a result means.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

SHARED = "shared"
WORKTREE = "worktree"
MODES = (SHARED, WORKTREE)
BRANCH_PREFIX = "overnight/"
DEFAULT_INTEGRATION_BRANCH = "overnight/queue"
INTEGRATION_FOLDER = ".integration"  # the integration branch's private worktree (no slug starts with ".")
FALLBACK_AUTHOR = ("Overnight", "overnight@localhost")
MAX_PATHS = 200  # changed files a diffstat keeps by name (queue.json stays small)
NOTHING_CHANGED = "finished without changing anything"

# What git refuses in a branch name (git-check-ref-format), checked without git.
_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(//)|([/.]$)|(\.lock$)|(/\.)")


@dataclass(frozen=True, slots=True)
class Diffstat:
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: tuple[str, ...] = ()  # the changed files, the first MAX_PATHS of them


@dataclass(frozen=True, slots=True)
class Workspace:
    """A job's worktree: its repo's top level, the worktree's path, its branch, the commit it
    started from, and whether (and by which commit) it was merged into the integration branch."""

    repo: str
    path: str
    branch: str
    base: str
    merged: bool = False
    merge_commit: str | None = None
    diffstat: Diffstat = Diffstat()


@dataclass(frozen=True, slots=True)
class WorkspaceProblem:
    """Why a PRD cannot run in a worktree: the frontmatter key to blame, the problem, the fix."""

    key: str
    problem: str
    fix: str


def is_branch_name(name: str) -> bool:
    """A name git accepts for a branch."""
    return bool(name) and _BAD_REF.search(name) is None


def repo_folder(home: str, repo: str) -> str:
    """`<home>/worktrees/<repo-name>-<hash8>`: one folder per repository, two repos of one name apart."""
    digest = hashlib.sha256(os.fsencode(repo)).hexdigest()[:8]
    return os.path.join(home, "worktrees", f"{os.path.basename(repo.rstrip('/')) or 'repo'}-{digest}")


def worktree_path(home: str, repo: str, slug: str) -> str:
    return os.path.join(repo_folder(home, repo), slug)


def integration_path(home: str, repo: str) -> str:
    """Where the integration branch is checked out for merges: never the user's checkout."""
    return os.path.join(repo_folder(home, repo), INTEGRATION_FOLDER)


def job_branch(slug: str, existing: Collection[str]) -> str:
    """`overnight/<slug>`, or `overnight/<slug>-2`, `-3`… when a run of the slug already made one."""
    first = f"{BRANCH_PREFIX}{slug}"
    if first not in existing:
        return first
    n = 2
    while f"{first}-{n}" in existing:
        n += 1
    return f"{first}-{n}"


def workdir(repo: str, cwd: str, worktree: str) -> str:
    """The cwd's place in the worktree: a cwd `repo/sub` runs in `<worktree>/sub`."""
    relative = os.path.relpath(cwd, repo)
    return worktree if relative == "." else os.path.join(worktree, relative)


def merge_message(title: str, slug: str) -> str:
    return f"overnight: {title} ({slug})"


def leftovers_message(slug: str) -> str:
    return f"overnight: uncommitted work of {slug}"


def conflict_reason(integration: str, files: Sequence[str]) -> str:
    shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
    return f"does not merge into {integration}: {shown or 'git refused the merge'}"


def missing_reason(what: str, path: str) -> str:
    """The user removed a job's worktree or branch by hand: say what is gone and what to do."""
    return f"its {what} {path} is gone (removed outside Overnight) — re-run the job to start it afresh"


def is_ours(home: str, path: str) -> bool:
    """Only worktrees under the home's worktrees/ are ever created or removed."""
    root = posixpath.join(os.path.normpath(home), "worktrees") + os.sep
    return os.path.normpath(path).startswith(root)


def parse_numstat(text: str) -> Diffstat:
    """`git diff --numstat` summed up (binary files count as changed files with no lines)."""
    files = insertions = deletions = 0
    paths: list[str] = []
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) < 3:
            continue
        files += 1
        if len(paths) < MAX_PATHS:
            paths.append(parts[2])
        insertions += int(parts[0]) if parts[0].isdigit() else 0
        deletions += int(parts[1]) if parts[1].isdigit() else 0
    return Diffstat(files, insertions, deletions, tuple(paths))
