"""A worktree job's names and the PRD keys that ask for one (docs/BEHAVIOUR.md sections 3 and 13)."""

import pytest

from app.core.prd import PrdError, parse_prd
from app.core.workspace import (
    MAX_PATHS,
    Diffstat,
    WorkspaceProblem,
    conflict_reason,
    is_branch_name,
    is_ours,
    job_branch,
    merge_message,
    parse_numstat,
    workdir,
    worktree_path,
)


def parse(text: str, **defaults):
    return parse_prd("01-job.md", text.encode(), path="/prds/01-job.md", default_cwd="/tmp",
                     default_model="sonnet", is_dir=lambda _: True, **defaults)


def test_a_worktree_lives_under_the_home_in_a_folder_per_repository():
    one = worktree_path("/h", "/code/app", "01-login")
    other = worktree_path("/h", "/elsewhere/app", "01-login")
    assert one.startswith("/h/worktrees/app-") and one.endswith("/01-login")
    assert one != other  # two repositories of one name stay apart
    assert is_ours("/h", one) and not is_ours("/h", "/code/app") and not is_ours("/h", "/h/worktrees/../x")


def test_a_later_run_of_a_slug_gets_the_next_free_branch_name():
    assert job_branch("01-a", set()) == "overnight/01-a"
    assert job_branch("01-a", {"overnight/01-a"}) == "overnight/01-a-2"
    assert job_branch("01-a", {"overnight/01-a", "overnight/01-a-2"}) == "overnight/01-a-3"


def test_the_cwd_keeps_its_place_in_the_worktree():
    assert workdir("/code/app", "/code/app", "/h/wt/x") == "/h/wt/x"
    assert workdir("/code/app", "/code/app/web/src", "/h/wt/x") == "/h/wt/x/web/src"


def test_messages_and_reasons_name_the_job_and_the_files():
    assert merge_message("Add login", "01-login") == "overnight: Add login (01-login)"
    assert conflict_reason("overnight/queue", ["a.py", "b.py"]) == "does not merge into overnight/queue: a.py, b.py"
    many = conflict_reason("overnight/queue", [f"f{i}" for i in range(12)])
    assert many.endswith("f9 and 2 more")


def test_numstat_adds_up_files_and_lines_counts_binary_files_and_names_them():
    stat = parse_numstat("3\t1\ta.py\n-\t-\timage.png\n0\t2\tb.py\n")
    assert stat == Diffstat(3, 3, 3, ("a.py", "image.png", "b.py"))


def test_numstat_names_at_most_max_paths_files_but_counts_them_all():
    stat = parse_numstat("".join(f"1\t0\tf{i}.py\n" for i in range(MAX_PATHS + 5)))
    assert stat.files == MAX_PATHS + 5 and len(stat.paths) == MAX_PATHS


@pytest.mark.parametrize("name", ["overnight/queue", "night", "team/run-2"])
def test_good_branch_names(name):
    assert is_branch_name(name)


@pytest.mark.parametrize("name", ["", "-x", "a..b", "a b", "a:b", "a/", "x.lock", "a//b", "a@{1}"])
def test_bad_branch_names(name):
    assert not is_branch_name(name)


def test_the_workspace_keys_are_read_with_their_defaults():
    prd = parse("do it\n")
    assert (prd.workspace, prd.base, prd.expect_changes) == ("shared", None, True)
    prd = parse("---\nbase: main\nexpectChanges: false\n---\ndo it\n", default_workspace="worktree")
    assert (prd.workspace, prd.base, prd.expect_changes) == ("worktree", "main", False)


@pytest.mark.parametrize(("frontmatter", "words", "line"), [
    ("workspace: branch", "use workspace: shared or workspace: worktree", 2),
    ("base: [a, b]", "use a branch, tag or commit", 2),
    ("title: t\nexpectChanges: maybe", "expectChanges: true or expectChanges: false", 3),
])
def test_bad_workspace_keys_are_invalid_on_their_line(frontmatter, words, line):
    error = parse(f"---\n{frontmatter}\n---\nbody\n")
    assert isinstance(error, PrdError) and words in error.fix and error.line == line


def test_what_git_says_of_a_worktree_prd_makes_it_invalid_on_the_key_to_blame():
    seen = []

    def check(cwd, base):
        seen.append((cwd, base))
        return WorkspaceProblem("base", "base nope names nothing", "use an existing ref")

    error = parse("---\nworkspace: worktree\nbase: nope\n---\nbody\n", check_workspace=check)
    assert isinstance(error, PrdError) and error.line == 3 and "names nothing" in error.problem
    assert seen == [("/tmp", "nope")]
    assert not isinstance(parse("body\n", check_workspace=check), PrdError)  # shared PRDs ask no git
