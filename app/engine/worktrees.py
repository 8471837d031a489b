"""A `workspace: worktree` job's git work (docs/BEHAVIOUR.md section 13), done with the `git`
program itself: the job's worktree and branch made from the integration branch, what the agent
left committed, the branch merged into the integration branch, the worktree removed.

Every git call has a timeout and runs off the event loop (`in_daemon_thread`); merges into one
repo's integration branch take turns (one `asyncio.Lock` per repo) and happen in a private
worktree of that branch under the home. The user's checkout is never touched: no checkout,
reset or stash runs in it. Only worktrees under `<home>/worktrees/` and branches under
`overnight/` are ever created or removed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from app.core.workspace import (
    BRANCH_PREFIX,
    FALLBACK_AUTHOR,
    NOTHING_CHANGED,
    Workspace,
    WorkspaceProblem,
    conflict_reason,
    integration_path,
    is_ours,
    job_branch,
    leftovers_message,
    merge_message,
    missing_reason,
    parse_numstat,
    workdir,
    worktree_path,
)
from app.engine.threads import in_daemon_thread

T = TypeVar("T")

GIT_TIMEOUT = 60.0  # seconds for one git command
CHECK_TIMEOUT = 10.0  # for the look at a PRD's repo while it is read


class GitError(Exception):
    """A git command failed; the message is git's own, cut to its first lines."""


def git(cwd: str, *args: str, timeout: float = GIT_TIMEOUT, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """One git command in `cwd`, never prompting, in plain English."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise GitError(f"git cannot be run ({exc.strerror or exc})") from exc
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {args[0]} failed: {' / '.join(said[:3]) or f'exit {done.returncode}'}")
    return done


def repo_top(cwd: str, timeout: float = GIT_TIMEOUT) -> str | None:
    """The top level of the work tree `cwd` is in, or None outside one."""
    done = git(cwd, "rev-parse", "--show-toplevel", timeout=timeout, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def _commit_of(repo: str, ref: str, timeout: float = GIT_TIMEOUT) -> str | None:
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", timeout=timeout, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def workspace_problem(cwd: str, base: str | None) -> WorkspaceProblem | None:
    """Why a PRD with `workspace: worktree` cannot run: its cwd in no git work tree, a repo with
    no commit yet, a `base` that names nothing. Blocking: called where PRDs are read."""
    try:
        repo = repo_top(cwd, CHECK_TIMEOUT)
        if repo is None:
            return WorkspaceProblem("workspace", f"cwd {cwd} is not inside a git work tree",
                                    "run 'git init' there, point cwd at a git checkout, or use workspace: shared")
        if _commit_of(repo, "HEAD", CHECK_TIMEOUT) is None:
            return WorkspaceProblem("workspace", f"the git repository {repo} has no commit yet",
                                    "make a first commit there (git add -A && git commit -m start)")
        if base is not None and _commit_of(repo, base, CHECK_TIMEOUT) is None:
            return WorkspaceProblem("base", f"base {base} names no branch, tag or commit in {repo}",
                                    "use an existing ref (git branch -a lists them) or remove base")
    except GitError as exc:
        return WorkspaceProblem("workspace", f"git cannot look at {cwd} ({exc})", "check that git is installed")
    return None


@dataclass(frozen=True, slots=True)
class Settled:
    """A worktree job after its run: its workspace now, and why it needs review (None: it does not)."""

    workspace: Workspace
    review: str | None = None


class Worktrees:
    def __init__(self, home: str) -> None:
        self._home = home
        self._locks: dict[str, asyncio.Lock] = {}

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        """Blocking git work on a thread; a few git calls, each with its own timeout."""
        return await in_daemon_thread(lambda: work(*args), GIT_TIMEOUT * 6, "overnight-git")

    # ------------------------------------------------------------ before a run

    async def create(self, cwd: str, slug: str, base: str | None, integration: str) -> Workspace:
        """The job's new worktree and branch, from `base` or the integration branch's tip (made
        from HEAD's commit the first time). GitError says why it could not be made."""
        return await self._off_loop(self._create, cwd, slug, base, integration)

    def _create(self, cwd: str, slug: str, base: str | None, integration: str) -> Workspace:
        repo = repo_top(cwd)
        if repo is None:
            raise GitError(f"{cwd} is not inside a git work tree")
        if _commit_of(repo, f"refs/heads/{integration}") is None:
            head = _commit_of(repo, "HEAD")
            if head is None:
                raise GitError(f"the git repository {repo} has no commit yet")
            git(repo, "branch", integration, head)
        start = _commit_of(repo, base if base is not None else f"refs/heads/{integration}")
        if start is None:
            raise GitError(f"base {base} names no branch, tag or commit in {repo}")
        path = worktree_path(self._home, repo, slug)
        if os.path.lexists(path):  # a kept worktree of an earlier run: its branch stays
            self._remove(repo, path)
        listed = git(repo, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}{slug}*")
        branch = job_branch(slug, set(listed.stdout.split()))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        git(repo, "worktree", "add", "-b", branch, path, start)
        os.makedirs(workdir(repo, os.path.realpath(cwd), path), exist_ok=True)  # a folder git does not track
        return Workspace(repo=repo, path=path, branch=branch, base=start)

    # ------------------------------------------------------------ after a run

    async def settle(self, ws: Workspace, *, title: str, slug: str, completed: bool, expect_changes: bool,
                     integration: str, commit: bool = True) -> Settled:
        """What the agent left is committed (unless `commit` is false: done already, before its
        verify commands ran); a completed run's branch is merged (or found to need review) and its
        worktree removed once merged. A worktree or branch removed by hand is a review reason,
        never a crash."""
        if ws.merged:
            return Settled(ws)
        try:
            if commit:
                ws = await self._off_loop(self._commit_leftovers, ws, slug)
            if not completed:
                return Settled(ws)
            if not await self._off_loop(self._changed, ws) and expect_changes:
                return Settled(ws, NOTHING_CHANGED)
            async with self._locks.setdefault(ws.repo, asyncio.Lock()):
                return await self._off_loop(self._merge, ws, merge_message(title, slug), integration)
        except _Missing as gone:
            return Settled(ws, str(gone))
        except (GitError, OSError, TimeoutError) as exc:  # the run must still end: the job says why
            return Settled(ws, f"its work could not be merged ({exc or type(exc).__name__})")

    def _commit_leftovers(self, ws: Workspace, slug: str) -> Workspace:
        if not os.path.isdir(ws.path):
            if _commit_of(ws.repo, f"refs/heads/{ws.branch}") is None:
                raise _Missing(missing_reason("branch", ws.branch))
            return ws  # the branch still holds whatever was committed
        git(ws.path, "add", "-A")
        if git(ws.path, "diff", "--cached", "--quiet", check=False).returncode != 0:
            git(ws.path, "commit", "--no-verify", "-q", "-m", leftovers_message(slug), env=_identity(ws.path))
        return ws

    def _changed(self, ws: Workspace) -> bool:
        if _commit_of(ws.repo, f"refs/heads/{ws.branch}") is None:
            raise _Missing(missing_reason("branch", ws.branch))
        count = git(ws.repo, "rev-list", "--count", f"{ws.base}..refs/heads/{ws.branch}").stdout.strip()
        return count not in ("", "0")

    def _merge(self, ws: Workspace, message: str, integration: str) -> Settled:
        tip = _commit_of(ws.repo, f"refs/heads/{ws.branch}")
        if tip is None:
            raise _Missing(missing_reason("branch", ws.branch))
        place = self._integration_worktree(ws.repo, integration)
        try:
            stat = parse_numstat(git(ws.repo, "diff", "--numstat", ws.base, tip).stdout)
            ancestor = git(place, "merge-base", "--is-ancestor", tip, "HEAD", check=False).returncode == 0
            if not ancestor:  # a merge finished before a restart is never made twice
                done = git(place, "merge", "--no-ff", "--no-verify", "-m", message, tip, env=_identity(ws.repo),
                           check=False)
                if done.returncode != 0:
                    files = git(place, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
                    git(place, "merge", "--abort", check=False)
                    return Settled(replace(ws, diffstat=stat), conflict_reason(integration, files))
            commit = _commit_of(place, "HEAD")
        finally:
            # Between merges the branch is free: the user may check it out, resolve a conflict on it.
            git(place, "checkout", "-q", "--detach", check=False)
        merged = replace(ws, merged=True, merge_commit=commit, diffstat=stat)
        self._remove(ws.repo, ws.path)
        return Settled(merged)

    def _integration_worktree(self, repo: str, integration: str) -> str:
        """The integration branch checked out in its private worktree, clean (a merge a crash cut
        short is aborted there, so nothing is ever half-merged)."""
        place = integration_path(self._home, repo)
        if not os.path.isdir(place):
            git(repo, "worktree", "prune")
            os.makedirs(os.path.dirname(place), exist_ok=True)
            git(repo, "worktree", "add", "-q", "--detach", place)
        git(place, "merge", "--abort", check=False)
        git(place, "reset", "-q", "--hard", "HEAD")
        git(place, "checkout", "-q", integration)
        return place

    async def contained(self, ws: Workspace, integration: str) -> bool | None:
        """Whether the integration branch holds the job's branch (None: the branch is gone)."""
        return await self._off_loop(self._contained, ws, integration)

    def _contained(self, ws: Workspace, integration: str) -> bool | None:
        tip = _commit_of(ws.repo, f"refs/heads/{ws.branch}")
        if tip is None:
            return None
        done = git(ws.repo, "merge-base", "--is-ancestor", tip, f"refs/heads/{integration}", check=False)
        return done.returncode == 0

    # ------------------------------------------------------------ upkeep

    async def remove(self, ws: Workspace, *, branch: bool = False) -> None:
        """A kept worktree removed (re-run, discard, archive); with `branch`, its branch too."""
        await self._off_loop(self._remove, ws.repo, ws.path, ws.branch if branch else None)

    def _remove(self, repo: str, path: str, branch: str | None = None) -> None:
        if path and is_ours(self._home, path) and os.path.lexists(path):
            git(repo, "worktree", "remove", "--force", "--force", path, check=False)
        git(repo, "worktree", "prune", check=False)
        if branch is not None and branch.startswith(BRANCH_PREFIX):
            git(repo, "branch", "-D", branch, check=False)

    async def prune(self, repos: Iterable[str]) -> None:
        """`git worktree prune` in every repo the queue knows, at engine start."""
        for repo in sorted(set(repos)):
            if os.path.isdir(repo):
                await self._off_loop(self._remove, repo, "")


class _Missing(Exception):
    """Something the job's workspace needs was removed by hand; the message says what."""


def _identity(cwd: str) -> dict[str, str]:
    """Author and committer from the repo's git config, else Overnight's own."""
    name = git(cwd, "config", "user.name", check=False).stdout.strip() or FALLBACK_AUTHOR[0]
    email = git(cwd, "config", "user.email", check=False).stdout.strip() or FALLBACK_AUTHOR[1]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email}
