"""Jobs in git worktrees end to end (docs/BEHAVIOUR.md section 13): `overnight run` driving the
real Claude Code CLI against the fake Anthropic API in a real git repository, asserted from git,
the queue, the --json-logs events and what the agent saw.

They run against the newest CLI only: the git work is Overnight's own, and what the CLI does here
(write a file, run a command in its cwd) is what the journeys in test_journeys.py check on every
tested version."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_journeys import MESSAGES, Overnight, running_sets
from tests.fakes.anthropic import FakeAnthropic
from tests.support import wait_until

QUEUE = "overnight/queue"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    """A repository with one commit, a stash entry, an edited tracked file and an untracked one:
    a user's checkout in the middle of their own work."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    (path / "README.md").write_text("the project\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    (path / "README.md").write_text("stashed by the user\n")
    git(path, "stash", "-q")
    (path / "README.md").write_text("edited by the user, not committed\n")
    (path / "notes.txt").write_bytes(b"the user's own unsaved notes\x00\xff\n")
    return path


def checkout_state(repo: Path) -> tuple[str | bytes, ...]:
    """What the user has of their checkout: HEAD, the branch, `git status`, the stash, the bytes
    of the edited and the untracked file."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--show-current"),
            git(repo, "status", "--porcelain", "--untracked-files=all"), git(repo, "stash", "list"),
            (repo / "README.md").read_bytes(), (repo / "notes.txt").read_bytes())


def write(name: str, content: str) -> str:
    """A script that waits a second (so the jobs of a group overlap), then writes the file."""
    arg = json.dumps({"file_path": name, "content": content})
    return f'@agent sleep 1\n@agent write {arg}\n@agent text "wrote"\n'


def tool_results(fake: FakeAnthropic) -> list[str]:
    """The text of every tool result the CLI sent back to the model."""
    texts = []
    for request in fake.requests_to(MESSAGES):
        for message in request.body.get("messages", []):
            for block in message["content"] if isinstance(message["content"], list) else []:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    texts.append(content if isinstance(content, str) else " ".join(b.get("text", "") for b in content))
    return texts


@pytest.fixture
def overnight(tmp_path: Path, fake: FakeAnthropic, claude: Path) -> Iterator[Callable[..., Overnight]]:
    made: list[Overnight] = []

    def make(**config: Any) -> Overnight:
        made.append(Overnight(tmp_path, fake, claude, {"concurrency_cap": 2, **config}))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def test_a_group_runs_in_parallel_worktrees_lands_on_the_queue_branch_and_the_next_group_sees_it(overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    before = checkout_state(repo)
    o.prd("01-alpha.md", write("alpha.txt", "from alpha"), cwd=str(repo))
    o.prd("01-beta.md", write("beta.txt", "from beta"), cwd=str(repo))
    read = '@agent bash {"command": "pwd; cat alpha.txt beta.txt | tee seen.txt"}\n@agent text "read them"\n'
    o.prd("02-gamma.md", read, cwd=str(repo))
    assert o.run_until_idle(timeout=60) == 0
    assert {job["status"] for job in o.jobs().values()} == {"completed"}
    assert ["01-alpha", "01-beta"] in running_sets(o.events)  # both agents at work at once
    assert git(repo, "show", f"{QUEUE}:alpha.txt") == "from alpha"
    assert git(repo, "show", f"{QUEUE}:beta.txt") == "from beta"
    subjects = git(repo, "log", "--format=%s", QUEUE).splitlines()
    assert {"overnight: 01-alpha (01-alpha)", "overnight: 01-beta (01-beta)",
            "overnight: 02-gamma (02-gamma)"} <= set(subjects)
    assert {e["slug"] for e in o.named("job.merged")} == {"01-alpha", "01-beta", "02-gamma"}
    gamma = o.jobs()["02-gamma"]["workspace"]
    [seen] = {text for text in tool_results(o.fake) if gamma["path"] in text}
    assert "from alpha" in seen and "from beta" in seen  # group 2 started from group 1's merged work
    assert git(repo, "show", f"{QUEUE}:seen.txt") == "from alphafrom beta"  # left uncommitted, merged
    assert Path(gamma["path"]).is_relative_to(o.home.root / "worktrees")
    assert checkout_state(repo) == before


def test_two_jobs_writing_one_file_differently_merge_one_and_leave_the_other_for_review(overnight, tmp_path):
    o = overnight()
    repo = make_repo(tmp_path / "repo")
    before = checkout_state(repo)
    o.prd("01-left.md", write("shared.txt", "left's version"), cwd=str(repo), workspace="worktree")
    o.prd("01-right.md", write("shared.txt", "right's version"), cwd=str(repo), workspace="worktree")
    assert o.run_until_idle(timeout=60) == 0
    jobs = o.jobs()
    [merged] = [slug for slug, job in jobs.items() if job["status"] == "completed"]
    [review] = [slug for slug, job in jobs.items() if job["status"] == "needs_review"]
    assert jobs[review]["reason"] == f"does not merge into {QUEUE}: shared.txt"
    assert o.wait_event("job.needs_review", slug=review)["reason"] == jobs[review]["reason"]
    assert git(repo, "show", f"{QUEUE}:shared.txt") == f"{merged.removeprefix('01-')}'s version"
    kept = jobs[review]["workspace"]
    assert (Path(kept["path"]) / "shared.txt").read_text() == f"{review.removeprefix('01-')}'s version"
    assert not kept["merged"] and jobs[merged]["workspace"]["merged"]
    assert checkout_state(repo) == before


def test_an_agent_in_a_subfolder_keeps_its_place_its_own_commits_land_and_ignored_files_stay_out(overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    (repo / "web").mkdir()
    (repo / "web" / ".gitignore").write_text("*.log\n")
    git(repo, "add", "web/.gitignore")
    git(repo, "commit", "-q", "-m", "ignore logs")
    before = checkout_state(repo)
    commit = "git add page.html && git commit -q -m 'the page, committed by the agent'"
    o.prd("01-page.md", '@agent write {"file_path": "page.html", "content": "<p>hi</p>"}\n'
          f'@agent bash {json.dumps({"command": commit})}\n'
          '@agent write {"file_path": "build.log", "content": "noise"}\n'
          '@agent write {"file_path": "style.css", "content": "p {}"}\n@agent text "done"\n',
          cwd=str(repo / "web"))
    assert o.run_until_idle(timeout=60) == 0
    assert o.jobs()["01-page"]["status"] == "completed"
    assert git(repo, "show", f"{QUEUE}:web/page.html") == "<p>hi</p>"
    assert git(repo, "show", f"{QUEUE}:web/style.css") == "p {}"
    assert "web/build.log" not in git(repo, "ls-tree", "-r", "--name-only", QUEUE).split()
    subjects = git(repo, "log", "--format=%s", QUEUE).splitlines()
    assert {"the page, committed by the agent", "overnight: uncommitted work of 01-page",
            "overnight: 01-page (01-page)"} <= set(subjects)
    assert o.jobs()["01-page"]["workspace"]["diffstat"]["files"] == 2
    assert checkout_state(repo) == before


def test_a_failed_worktree_job_is_investigated_in_its_kept_worktree_and_the_fix_continues_from_its_branch(
        overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    before = checkout_state(repo)
    (tmp_path / "code").symlink_to(repo)  # the PRD names the repository through a symlink
    fix = {"body": 'Finish the page.\n\n@agent write {"file_path": "fixed.txt", "content": "fixed"}\n'}
    o.prd("03-payments.md", '@agent write {"file_path": "half.txt", "content": "half done"}\n'
          '@agent error {"status": 500, "retry": false}\n'
          f"@investigator write-fix-plan {json.dumps(fix)}\n", cwd=str(tmp_path / "code"), title="Payments page")
    assert o.run_until_idle(timeout=90) == 0
    jobs = o.jobs()
    failed = jobs["03-payments"]
    assert failed["status"] == "failed" and failed["fixPlanSlug"] == "03-fix-payments"
    kept = Path(failed["workspace"]["path"])
    assert (kept / "half.txt").read_text() == "half done"  # a failed job keeps its worktree
    requests = [json.dumps(r.body) for r in o.fake.requests_to(MESSAGES)]
    investigation = next(body for body in requests if "03-fix-payments.md" in body)
    assert f"Primary working directory: {kept}" in investigation  # the CLI ran there
    assert f"- Working directory: {kept}\\n" in investigation  # and was told so
    plan = yaml.safe_load((o.home.prds / "03-fix-payments.md").read_text().split("---")[1])
    assert (plan["workspace"], plan["base"]) == ("worktree", "overnight/03-payments")
    assert jobs["03-fix-payments"]["status"] == "completed"
    assert git(repo, "show", f"{QUEUE}:half.txt") == "half done"  # the fix's merge brings both
    assert git(repo, "show", f"{QUEUE}:fixed.txt") == "fixed"
    assert checkout_state(repo) == before


def test_a_worktree_job_adopted_after_the_engine_was_killed_is_merged_once(overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    o.prd("01-long.md", '@agent sleep 4\n@agent write {"file_path": "long.txt", "content": "finished"}\n'
          '@agent text "done"\n', cwd=str(repo))
    first = o.start()
    o.wait_event("job.started", slug="01-long")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert o.run_until_idle(timeout=60) == 0
    assert o.wait_event("job.adopted", slug="01-long")
    job = o.jobs()["01-long"]
    assert job["status"] == "completed" and job["workspace"]["merged"]
    assert git(repo, "show", f"{QUEUE}:long.txt") == "finished"
    assert git(repo, "log", "--format=%s", QUEUE).splitlines().count("overnight: 01-long (01-long)") == 1
    assert [e["slug"] for e in o.named("job.merged")] == ["01-long"]


def test_a_merge_refused_while_the_user_has_the_queue_branch_checked_out_is_made_later_with_merge(
        overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"}, concurrency_cap=1)
    repo = make_repo(tmp_path / "repo")
    git(repo, "stash", "-q", "-u")
    git(repo, "branch", QUEUE)
    git(repo, "checkout", "-q", QUEUE)
    o.prd("01-page.md", write("page.txt", "page"), cwd=str(repo))
    o.start()
    refused = o.wait_event("job.needs_review", slug="01-page")
    assert refused["reason"].startswith("its work could not be merged") and "already checked out" in refused["reason"]
    wait_until(lambda: o.jobs()["01-page"]["status"] == "needs_review")  # queue.json is saved just after the event
    git(repo, "checkout", "-q", "main")
    merged = subprocess.run([sys.executable, "-m", "app", "merge", "01-page", "--home", str(o.home.root)],
                            env=o.environ, capture_output=True, text=True, timeout=60)
    assert merged.returncode == 0, merged.stderr
    assert o.wait_event("job.merged", slug="01-page")["branch"] == "overnight/01-page"
    wait_until(lambda: o.jobs()["01-page"]["status"] == "completed")
    assert git(repo, "show", f"{QUEUE}:page.txt") == "page"


def test_a_worktree_job_whose_cwd_is_reached_through_a_symlink_runs_in_its_worktree(overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    (repo / "web").mkdir()
    (repo / "web" / "index.html").write_text("<p>home</p>")
    git(repo, "add", "web")
    git(repo, "commit", "-q", "-m", "the web folder")
    (tmp_path / "code").symlink_to(repo)  # e.g. ~/code pointing at another disk, or macOS's /tmp
    before = checkout_state(repo)
    o.prd("01-page.md", write("page.txt", "page"), cwd=str(tmp_path / "code" / "web"))
    assert o.run_until_idle(timeout=60) == 0
    job = o.jobs()["01-page"]
    assert job["status"] == "completed", job["reason"]
    assert git(repo, "show", f"{QUEUE}:web/page.txt") == "page"
    assert checkout_state(repo) == before


def test_a_worktree_job_limited_mid_task_continues_in_its_own_worktree_and_lands_whole(overnight, tmp_path):
    o = overnight(workspace={"mode": "worktree"})
    repo = make_repo(tmp_path / "repo")
    before = checkout_state(repo)
    halves = ('@agent write {"file_path": "one.txt", "content": "first half"}\n'
              '@agent ratelimit {"reset_in": 6}\n'
              '@agent write {"file_path": "two.txt", "content": "second half"}\n@agent text "done"\n')
    o.prd("01-halves.md", halves, cwd=str(repo))
    assert o.run_until_idle(timeout=120) == 0
    first, second = o.named("job.started")
    assert second["resumedFrom"] == first["runId"]
    cwds = [json.loads((o.home.run_dir(run["runId"]) / "01-halves.meta.json").read_text())["cwd"]
            for run in (first, second)]
    assert cwds[0] == cwds[1]  # the session continues where it began
    job = o.jobs()["01-halves"]
    assert job["status"] == "completed" and job["workspace"]["branch"] == "overnight/01-halves"
    assert git(repo, "show", f"{QUEUE}:one.txt") == "first half"
    assert git(repo, "show", f"{QUEUE}:two.txt") == "second half"
    assert git(repo, "branch", "--list", "overnight/01-halves*").split() == ["overnight/01-halves"]
    assert checkout_state(repo) == before
