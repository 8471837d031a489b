"""A real git repository with a worktree job's worktree and branch in it, for the window's review tests."""

import subprocess
from dataclasses import replace
from pathlib import Path

from app.core.queue import Status
from app.core.workspace import Workspace
from tests.unit.core.factories import job

BRANCH = "overnight/01-a"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def worktree_job(tmp_path: Path, status: Status = Status.NEEDS_REVIEW):
    """A job `01-a` whose run committed a change to app.py and left notes.md changed and todo.txt new,
    uncommitted, in its worktree."""
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.com")
    (repo / "app.py").write_text("one = 1\ntwo = 2\nthree = 3\n")
    (repo / "notes.md").write_text("# Notes\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = tmp_path / "worktrees" / "01-a"
    git(repo, "worktree", "add", "-q", "-b", BRANCH, str(worktree), base)
    (worktree / "app.py").write_text("one = 1\ntwo = 'two'\nthree = 3\nfour = 4\n")
    git(worktree, "commit", "-q", "-am", "two as a word, and four")
    (worktree / "notes.md").write_text("# Notes\nremember the milk\n")
    (worktree / "todo.txt").write_text("first\nsecond\nthird\n")
    workspace = Workspace(repo=str(repo), path=str(worktree), branch=BRANCH, base=base)
    return replace(job("01-a", status, workspace=workspace), cwd=str(repo))


def without_worktree(tmp_path: Path, the_job):
    """The same job after the user removed its worktree by hand."""
    git(tmp_path / "app", "worktree", "remove", "--force", the_job.workspace.path)
    return replace(the_job, runs=the_job.runs + 1)
