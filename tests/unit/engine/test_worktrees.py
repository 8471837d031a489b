"""Jobs in git worktrees (app/engine/worktrees.py; docs/BEHAVIOUR.md section 13): real git
repositories, a real engine, the stand-in agent writing files."""

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from app.core.queue import Status
from app.core.workspace import Workspace
from app.engine.worktrees import Worktrees

from .harness import Running, run, until


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    if commit:
        (path / "README.md").write_text("the project\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "start")
    return path


def checkout_state(repo: Path) -> tuple[str, str, str, list[str]]:
    """What the user sees of their checkout: HEAD, the branch, `git status`, every file."""
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)
    return (git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--show-current"),
            git(repo, "status", "--porcelain"), files)


def files_on(repo: Path, ref: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", ref).split())


def write(name: str, content: str) -> str:
    return f'@fake write {{"file_path": "{name}", "content": "{content}"}}\n'


WORKTREE = {"workspace": {"mode": "worktree"}}


@run
async def test_jobs_of_a_group_land_on_the_integration_branch_and_the_next_group_starts_from_them(tmp_path):
    repo = make_repo(tmp_path / "app")
    (repo / "notes.txt").write_text("the user's own unsaved work\n")  # untracked: must stay so
    (repo / "README.md").write_text("edited by the user, not committed\n")
    before = checkout_state(repo)
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-alpha.md", write("alpha.txt", "a"), cwd=str(repo))
        r.prd("01-beta.md", write("beta.txt", "b"), cwd=str(repo))
        r.prd("02-gamma.md", write("gamma.txt", "c"), cwd=str(repo))
        await until(lambda: all(r.status(s) is Status.COMPLETED for s in ("01-alpha", "01-beta", "02-gamma")),
                    timeout=30)
        assert files_on(repo, "overnight/queue") >= {"alpha.txt", "beta.txt", "gamma.txt", "README.md"}
        gamma = r.job("02-gamma").workspace
        assert {"alpha.txt", "beta.txt"} <= files_on(repo, gamma.base)  # group 2 saw group 1's work
        alpha = r.job("01-alpha").workspace
        assert alpha.merged and alpha.branch == "overnight/01-alpha"
        assert alpha.diffstat.files == 1 and alpha.diffstat.insertions == 1
        assert not Path(alpha.path).exists()  # a merged job's worktree is removed, its branch stays
        assert "overnight/01-alpha" in git(repo, "branch", "--list", "overnight/01-alpha")
        assert git(repo, "log", "-1", "--format=%an", "overnight/01-alpha").strip() == "Test User"
        assert "overnight: 01-alpha (01-alpha)" in git(repo, "log", "--format=%s", "overnight/queue")
        merged = {e["slug"]: e for e in r.named("job.merged")}
        assert merged["01-beta"]["branch"] == "overnight/01-beta"
        await r.engine.flush()
        saved = {job["slug"]: job for job in r.saved()["jobs"]}
        assert saved["01-alpha"]["workspace"]["mergeCommit"] == alpha.merge_commit
    assert checkout_state(repo) == before


@run
async def test_the_same_file_changed_twice_merges_once_and_the_other_job_needs_review(tmp_path):
    repo = make_repo(tmp_path / "app")
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-left.md", write("shared.txt", "left"), cwd=str(repo))
        r.prd("01-right.md", write("shared.txt", "right"), cwd=str(repo))
        await until(lambda: {r.status("01-left"), r.status("01-right")} == {Status.COMPLETED, Status.NEEDS_REVIEW},
                    timeout=30)
        loser = next(s for s in ("01-left", "01-right") if r.status(s) is Status.NEEDS_REVIEW)
        job = r.job(loser)
        assert job.reason == "does not merge into overnight/queue: shared.txt"
        assert Path(job.workspace.path).is_dir() and not job.workspace.merged  # kept for inspection
        assert r.named("job.needs_review")[0]["slug"] == loser
        assert git(repo, "status", "--porcelain") == ""
        integration = Path(r.home.root) / "worktrees"
        assert not list(integration.glob("*/.integration/.git/MERGE_HEAD"))  # the merge was aborted


@run
async def test_a_job_that_changes_nothing_needs_review(tmp_path):
    repo = make_repo(tmp_path / "app")
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-idle.md", '@fake text "nothing to do"\n', cwd=str(repo))
        await until(lambda: r.status("01-idle") is Status.NEEDS_REVIEW, timeout=20)
        assert r.job("01-idle").reason == "finished without changing anything"
        r.prd("02-quiet.md", '@fake text "checked, all fine"\n', cwd=str(repo), expectChanges=False)
        await until(lambda: r.status("02-quiet") is Status.COMPLETED, timeout=20)


@run
async def test_a_subfolder_keeps_its_place_in_the_worktree_and_a_shared_job_runs_in_the_checkout(tmp_path):
    repo = make_repo(tmp_path / "app")
    (repo / "web").mkdir()
    (repo / "web" / "index.html").write_text("<p>hi</p>\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "web")
    async with Running(tmp_path) as r:
        r.prd("01-sub.md", write("page.html", "new"), cwd=str(repo / "web"), workspace="worktree")
        await until(lambda: r.status("01-sub") is Status.COMPLETED, timeout=20)
        assert "web/page.html" in files_on(repo, "overnight/queue")
        r.prd("02-here.md", write("here.txt", "x"), cwd=str(repo))
        await until(lambda: r.status("02-here") is Status.COMPLETED, timeout=20)
        assert (repo / "here.txt").exists() and r.job("02-here").workspace is None


@run
async def test_a_cwd_reached_through_a_symlink_keeps_its_place_in_the_worktree(tmp_path):
    repo = make_repo(tmp_path / "app")
    (repo / "web").mkdir()
    (repo / "web" / "index.html").write_text("<p>hi</p>\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "web")
    (tmp_path / "code").symlink_to(repo)  # e.g. ~/code on another disk, or macOS's /tmp
    async with Running(tmp_path) as r:
        r.prd("01-sub.md", write("page.html", "new"), cwd=str(tmp_path / "code" / "web"), workspace="worktree")
        await until(lambda: r.status("01-sub") in (Status.COMPLETED, Status.FAILED), timeout=20)
        assert r.status("01-sub") is Status.COMPLETED, r.job("01-sub").reason
        assert "web/page.html" in files_on(repo, "overnight/queue")


@run
async def test_a_cwd_git_does_not_track_is_made_in_the_worktree(tmp_path):
    repo = make_repo(tmp_path / "app")
    (repo / "drafts").mkdir()  # empty: not in any commit
    async with Running(tmp_path) as r:
        r.prd("01-draft.md", write("plan.md", "the plan"), cwd=str(repo / "drafts"), workspace="worktree")
        await until(lambda: r.status("01-draft") in (Status.COMPLETED, Status.FAILED), timeout=20)
        assert r.status("01-draft") is Status.COMPLETED, r.job("01-draft").reason
        assert "drafts/plan.md" in files_on(repo, "overnight/queue")
    assert not (repo / "drafts" / "plan.md").exists()


@run
async def test_prds_that_cannot_run_in_a_worktree_are_invalid_with_the_fix(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    empty = make_repo(tmp_path / "empty", commit=False)
    repo = make_repo(tmp_path / "app")
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-plain.md", "x\n", cwd=str(plain))
        r.prd("01-empty.md", "x\n", cwd=str(empty))
        base_prd = r.prd("01-base.md", "x\n", cwd=str(repo), base="no-such-branch")
        await until(lambda: all(r.status(s) is Status.INVALID for s in ("01-plain", "01-empty", "01-base")))
        assert "is not inside a git work tree" in r.job("01-plain").reason
        assert "git init" in r.job("01-plain").reason
        assert "has no commit yet" in r.job("01-empty").reason
        assert "base no-such-branch names no branch" in r.job("01-base").reason
        lines = base_prd.read_text().splitlines()
        assert r.job("01-base").error.line == lines.index("base: no-such-branch") + 1
        git(empty, "commit", "-q", "--allow-empty", "-m", "first")
        r.prd("01-empty.md", "y\n", cwd=str(empty))
        await until(lambda: r.status("01-empty") is Status.NEEDS_REVIEW, timeout=20)


@run
async def test_a_branch_or_worktree_removed_by_hand_is_named_and_nothing_breaks(tmp_path):
    repo = make_repo(tmp_path / "app")
    worktrees = Worktrees(str(tmp_path / "home"))
    ws = await worktrees.create(str(repo), "01-gone", None, "overnight/queue")
    assert git(repo, "rev-parse", "overnight/queue") == git(repo, "rev-parse", "HEAD")
    (Path(ws.path) / "new.txt").write_text("work\n")
    shutil.rmtree(ws.path)
    git(repo, "worktree", "prune")
    git(repo, "branch", "-D", ws.branch)
    settled = await worktrees.settle(ws, title="Gone", slug="01-gone", completed=True, expect_changes=True,
                                     integration="overnight/queue")
    assert settled.review is not None
    assert f"its branch {ws.branch} is gone" in settled.review
    assert not settled.workspace.merged


@run
async def test_a_merge_already_made_before_a_restart_is_not_made_twice(tmp_path):
    repo = make_repo(tmp_path / "app")
    worktrees = Worktrees(str(tmp_path / "home"))
    ws = await worktrees.create(str(repo), "01-once", None, "overnight/queue")
    (Path(ws.path) / "once.txt").write_text("1\n")
    first = await worktrees.settle(ws, title="Once", slug="01-once", completed=True, expect_changes=True,
                                   integration="overnight/queue")
    again = await worktrees.settle(Workspace(ws.repo, ws.path, ws.branch, ws.base), title="Once", slug="01-once",
                                   completed=True, expect_changes=True, integration="overnight/queue")
    assert first.workspace.merged and again.workspace.merged
    assert again.workspace.merge_commit == first.workspace.merge_commit
    merges = git(repo, "log", "--merges", "--format=%s", "overnight/queue").splitlines()
    assert merges == ["overnight: Once (01-once)"]


@run
async def test_a_conflict_merged_by_hand_is_accepted_and_merge_says_what_is_still_in_the_way(tmp_path):
    repo = make_repo(tmp_path / "app")
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-left.md", write("shared.txt", "left"), cwd=str(repo))
        r.prd("01-right.md", write("shared.txt", "right"), cwd=str(repo))
        await until(lambda: Status.NEEDS_REVIEW in {r.status("01-left"), r.status("01-right")}, timeout=30)
        loser = next(s for s in ("01-left", "01-right") if r.status(s) is Status.NEEDS_REVIEW)
        branch = r.job(loser).workspace.branch
        again = await r.engine.handle({"cmd": "merge", "slug": loser})
        assert again == {"ok": False, "error": f"{loser} does not merge into overnight/queue: shared.txt"}
        refused = await r.engine.handle({"cmd": "accept", "slug": loser})
        assert not refused["ok"] and f"{branch} is not in overnight/queue yet" in refused["error"]
        # The user resolves it by hand on the integration branch, in a checkout of their own.
        mine = tmp_path / "resolve"
        git(repo, "worktree", "add", "-q", str(mine), "overnight/queue")
        subprocess.run(["git", "merge", branch], cwd=mine, capture_output=True)
        (mine / "shared.txt").write_text("both\n")
        git(mine, "commit", "-q", "-am", "resolved")
        assert await r.engine.handle({"cmd": "accept", "slug": loser}) == {"ok": True}
        assert r.status(loser) is Status.COMPLETED
        assert not Path(r.job(loser).workspace.path).exists()
        winner = "01-left" if loser == "01-right" else "01-right"
        wrong = await r.engine.handle({"cmd": "merge", "slug": winner})
        assert wrong == {"ok": False, "error": f"{winner} is completed; merge applies to a job that needs review"}


@run
async def test_discard_removes_the_worktree_and_branch_and_rerun_starts_afresh(tmp_path):
    repo = make_repo(tmp_path / "app")
    before = checkout_state(repo)
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("01-idle.md", '@fake text "nothing"\n', cwd=str(repo))
        r.prd("02-also.md", '@fake text "nothing"\n', cwd=str(repo), dependsOn=["01-idle"])
        await until(lambda: r.status("01-idle") is Status.NEEDS_REVIEW, timeout=20)
        assert r.status("02-also") is Status.PENDING  # it depends on a job that needs review
        kept = r.job("01-idle").workspace
        assert await r.engine.handle({"cmd": "rerun", "slug": "01-idle"}) == {"ok": True}
        await until(lambda: r.status("01-idle") is Status.NEEDS_REVIEW and r.job("01-idle").runs == 2, timeout=20)
        assert r.job("01-idle").workspace.branch == "overnight/01-idle-2"
        assert "overnight/01-idle" in git(repo, "branch", "--list", kept.branch)  # the first run's branch stays
        ws = r.job("01-idle").workspace
        assert await r.engine.handle({"cmd": "discard", "slug": "01-idle"}) == {"ok": True}
        assert r.status("01-idle") is Status.CANCELLED
        assert not Path(ws.path).exists() and git(repo, "branch", "--list", ws.branch) == ""
        r.prd("03-done.md", '@fake text "checked"\n', cwd=str(repo), expectChanges=True)
        await until(lambda: r.status("03-done") is Status.NEEDS_REVIEW, timeout=20)
        assert await r.engine.handle({"cmd": "accept", "slug": "03-done"}) == {"ok": True}
        assert r.status("03-done") is Status.COMPLETED
    assert checkout_state(repo) == before


@run
async def test_a_failed_worktree_job_is_investigated_in_its_worktree_and_its_fix_plan_continues_its_branch(tmp_path):
    repo = make_repo(tmp_path / "app")
    async with Running(tmp_path, WORKTREE) as r:
        r.prd("03-half.md", write("half.txt", "half") + "@fake max_turns\n", cwd=str(repo))
        await until(lambda: r.status("03-fix-half") is Status.COMPLETED, timeout=30)
        failed = r.job("03-half")
        assert failed.status is Status.FAILED and Path(failed.workspace.path).is_dir()  # kept for inspection
        assert "half.txt" in files_on(repo, failed.workspace.branch)  # its leftovers were committed
        plan = r.job("03-fix-half")
        assert plan.base == failed.workspace.branch and plan.workspace.base == git(
            repo, "rev-parse", failed.workspace.branch).strip()
        assert {"half.txt", "fixed.txt"} <= files_on(repo, "overnight/queue")
        log = r.home.run_dir(failed.last.run_id) / "03-half.investigation.jsonl"
        init = json.loads(log.read_text().splitlines()[0])
        assert init["cwd"] == failed.workspace.path  # the investigation ran in the failed job's worktree


@run
async def test_switching_the_default_workspace_to_worktree_checks_the_waiting_prds_again(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    async with Running(tmp_path, {"fire_policy": "manual"}) as r:
        r.prd("01-here.md", "x\n", cwd=str(plain))
        await until(lambda: r.status("01-here") is Status.PENDING)
        settings = yaml.safe_load(r.home.config.read_text())
        settings["workspace"] = {"mode": "worktree"}
        r.home.config.write_text(yaml.safe_dump(settings))
        await until(lambda: r.status("01-here") is Status.INVALID)
        assert f"cwd {plain} is not inside a git work tree" in r.job("01-here").reason


@run
async def test_a_merge_a_crash_left_half_made_is_aborted_before_the_next_one(tmp_path):
    repo = make_repo(tmp_path / "app")
    worktrees = Worktrees(str(tmp_path / "home"))
    first = await worktrees.create(str(repo), "01-a", None, "overnight/queue")
    (Path(first.path) / "a.txt").write_text("a\n")
    done = await worktrees.settle(first, title="A", slug="01-a", completed=True, expect_changes=True,
                                  integration="overnight/queue")
    assert done.workspace.merged
    # A crash in the middle of a merge: the private worktree holds a conflicted, unfinished merge.
    place = next((tmp_path / "home" / "worktrees").glob("*/.integration"))
    git(place, "checkout", "-q", "overnight/queue")
    git(place, "checkout", "-q", "-b", "overnight/side", "HEAD~1")
    (place / "a.txt").write_text("other\n")
    git(place, "add", "-A")
    git(place, "commit", "-q", "-m", "side")
    git(place, "checkout", "-q", "overnight/queue")
    subprocess.run(["git", "merge", "overnight/side"], cwd=place, capture_output=True)
    assert (Path(git(place, "rev-parse", "--git-dir").strip()) / "MERGE_HEAD").exists()
    second = await worktrees.create(str(repo), "01-b", None, "overnight/queue")
    (Path(second.path) / "b.txt").write_text("b\n")
    settled = await worktrees.settle(second, title="B", slug="01-b", completed=True, expect_changes=True,
                                     integration="overnight/queue")
    assert settled.review is None and settled.workspace.merged
    assert git(repo, "show", "overnight/queue:a.txt") == "a\n"  # nothing of the half-made merge
    assert {"a.txt", "b.txt"} <= files_on(repo, "overnight/queue")


@run
async def test_an_integration_branch_the_user_has_checked_out_is_left_alone_and_the_job_says_why(tmp_path):
    repo = make_repo(tmp_path / "app")
    worktrees = Worktrees(str(tmp_path / "home"))
    ws = await worktrees.create(str(repo), "01-a", None, "overnight/queue")
    (Path(ws.path) / "a.txt").write_text("a\n")
    git(repo, "checkout", "-q", "overnight/queue")  # the user looks at it in their own checkout
    before = checkout_state(repo)
    settled = await worktrees.settle(ws, title="A", slug="01-a", completed=True, expect_changes=True,
                                     integration="overnight/queue")
    assert not settled.workspace.merged
    assert "could not be merged" in settled.review and "already" in settled.review
    assert checkout_state(repo) == before
    git(repo, "checkout", "-q", "main")
    again = await worktrees.settle(ws, title="A", slug="01-a", completed=True, expect_changes=True,
                                   integration="overnight/queue")
    assert again.review is None and again.workspace.merged


@run
async def test_verify_runs_in_the_worktree_after_the_commit_and_a_failed_verify_is_never_merged(tmp_path):
    repo = make_repo(tmp_path / "app")
    committed_first = 'test -f alpha.txt && git log -1 --format=%s | grep -q "uncommitted work of 01-alpha"'
    async with Running(tmp_path, {**WORKTREE, "investigation": {"enabled": False}}) as r:
        r.prd("01-alpha.md", write("alpha.txt", "a"), cwd=str(repo), verify=[committed_first])
        r.prd("01-beta.md", write("beta.txt", "b"), cwd=str(repo), verify="exit 3")
        await until(lambda: r.status("01-alpha") is Status.COMPLETED and r.status("01-beta") is Status.FAILED,
                    timeout=30)
        assert r.job("01-alpha").verify.ok and r.job("01-alpha").workspace.merged
        beta = r.job("01-beta")
        assert beta.reason == "verify failed: `exit 3` exited 3"
        assert not beta.workspace.merged and Path(beta.workspace.path).is_dir()  # kept for inspection
        assert "beta.txt" in files_on(repo, beta.workspace.branch)  # its work is on its branch…
        assert "beta.txt" not in files_on(repo, "overnight/queue")  # …never on the integration branch
        assert files_on(repo, "overnight/queue") >= {"alpha.txt"}
        assert [e["slug"] for e in r.named("job.merged")] == ["01-alpha"]
        # The morning report shows both: the failed one first, with its verify command's exit code.
        written = await until(lambda: r.named("report.written"))
        report = Path(written[0]["path"]).read_text()
        assert report.index("(01-beta)") < report.index("(01-alpha)")
        assert "- Verify `exit 3`: exit 3" in report
        alpha = r.job("01-alpha").workspace
        assert f"- Branch `overnight/01-alpha`, merged as `{alpha.merge_commit}`: 1 file, +1 −0" in report
        assert "  - `alpha.txt`" in report
