"""Adding PRDs from elsewhere (`overnight add`, drag and drop): validated, then copied into
prds/ under a name with a group; a bad one is refused with the reason, nothing is overwritten."""

import os
import stat
from pathlib import Path

import pytest

from app.config import Config
from app.engine.intake import Added, Refused, add_prds, expand
from app.paths import Home, ensure_home


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    ensure_home(home)
    return home


@pytest.fixture
def config(tmp_path) -> Config:
    project = tmp_path / "project"
    project.mkdir()
    return Config(default_cwd=str(project))


@pytest.fixture
def drafts(tmp_path) -> Path:
    folder = tmp_path / "drafts"
    folder.mkdir()
    return folder


def add_one(home: Home, config: Config, source: Path, group: int | None = None) -> Added | Refused:
    [result] = add_prds(home, config, [source], group)
    return result


def test_a_prd_is_copied_into_prds_with_its_group_in_front_and_the_original_is_left_as_it_was(home, config, drafts):
    source = drafts / "fix-login.md"
    source.write_bytes(b"---\nparallelGroup: 3\n---\nFix the login form.\n")
    result = add_one(home, config, source)
    assert result == Added(source, home.prds / "03-fix-login.md", 3)
    assert result.target.read_bytes() == source.read_bytes() == b"---\nparallelGroup: 3\n---\nFix the login form.\n"
    assert stat.S_IMODE(result.target.stat().st_mode) == 0o600
    assert os.listdir(home.prds) == ["03-fix-login.md"]  # no temporary file left beside it


@pytest.mark.parametrize(
    ("name", "group", "target", "final_group"),
    [
        ("07-schema.md", None, "07-schema.md", 7),  # a name with a number keeps it
        ("07-schema.md", 2, "02-schema.md", 2),  # --group replaces it
        ("schema.md", 4, "04-schema.md", 4),
        ("schema.md", None, "99-schema.md", 99),  # no number anywhere: the last group
        ("My schema (draft).md", None, "99-My-schema-draft.md", 99),  # made a valid PRD name
        ("schema.txt", None, "99-schema.md", 99),
    ],
)
def test_the_name_in_prds_carries_the_group(home, config, drafts, name, group, target, final_group):
    source = drafts / name
    source.write_text("Write the schema.\n")
    assert add_one(home, config, source, group) == Added(source, home.prds / target, final_group)


def test_an_invalid_prd_is_refused_with_the_problem_and_the_fix_and_nothing_is_copied(home, config, drafts):
    source = drafts / "empty.md"
    source.write_text("---\ntitle: Nothing to do\n---\n")
    result = add_one(home, config, source)
    assert isinstance(result, Refused)
    assert str(source) in result.reason
    assert "the body is empty" in result.reason and "write the task for the agent" in result.reason
    assert os.listdir(home.prds) == []


def test_a_missing_file_and_a_named_pipe_are_refused_with_the_reason(home, config, drafts):
    os.mkfifo(drafts / "pipe.md")
    missing, pipe = add_prds(home, config, [drafts / "missing.md", drafts / "pipe.md"])
    assert missing == Refused(drafts / "missing.md", f"{drafts / 'missing.md'}: does not exist")
    assert isinstance(pipe, Refused) and "a named pipe (FIFO), not a regular file" in pipe.reason
    assert os.listdir(home.prds) == []


def test_a_prd_already_in_the_queue_is_not_added_twice(home, config, drafts):
    source = drafts / "01-a.md"
    source.write_text("Do a.\n")
    assert isinstance(add_one(home, config, source), Added)
    again = add_one(home, config, source)
    assert again == Refused(source, f"{source}: already in the queue as 01-a.md")
    assert os.listdir(home.prds) == ["01-a.md"]


def test_a_different_prd_with_the_same_name_never_overwrites_the_queued_one(home, config, drafts):
    (home.prds / "01-a.md").write_text("The queued task.\n")
    source = drafts / "01-a.md"
    source.write_text("Another task.\n")
    result = add_one(home, config, source)
    assert isinstance(result, Refused)
    assert "prds/01-a.md exists with other content — rename the file or remove the old one" in result.reason
    assert (home.prds / "01-a.md").read_text() == "The queued task.\n"


def test_a_folder_stands_for_the_md_files_directly_inside_it(home, config, drafts):
    (drafts / "02-b.md").write_text("Do b.\n")
    (drafts / "01-a.md").write_text("Do a.\n")
    (drafts / "notes.txt").write_text("not a PRD\n")
    (drafts / "later").mkdir()
    (drafts / "later" / "03-c.md").write_text("Do c.\n")
    assert expand([drafts]) == [drafts / "01-a.md", drafts / "02-b.md"]
    results = add_prds(home, config, [drafts])
    assert [result.target.name for result in results if isinstance(result, Added)] == ["01-a.md", "02-b.md"]
    assert sorted(os.listdir(home.prds)) == ["01-a.md", "02-b.md"]
