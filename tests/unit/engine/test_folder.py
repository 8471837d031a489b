"""Reading prds/: every name is listed and read alone, nothing in the folder can stall the reader."""

import os
import socket
import time

import pytest

from app.core.prd import MAX_PRD_BYTES
from app.engine import folder
from app.engine.folder import approve_plan, discard_plan
from app.paths import Home, ensure_home

from .harness import run


@pytest.fixture
def prds(tmp_path):
    path = tmp_path / "prds"
    path.mkdir()
    return path


def hostile_names(prds):
    """Names ending in .md that are not regular files, as a user's folder can hold them."""
    os.mkfifo(prds / "02-fifo.md")
    os.symlink("nowhere.md", prds / "03-dangling.md")
    os.symlink("04-loop.md", prds / "04-loop.md")
    (prds / "05-folder.md").mkdir()
    os.symlink("/dev/zero", prds / "06-device.md")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(prds / "07-socket.md"))
    return listener


def test_every_name_is_listed_even_those_that_are_not_files_but_editor_droppings_are_not(prds):
    (prds / "01-good.md").write_text("A PRD.\n")
    (prds / ".01-good.md.swp").write_text("x")
    with hostile_names(prds):
        listing = folder.list_prds(prds)
    assert list(listing) == ["01-good.md", "02-fifo.md", "03-dangling.md", "04-loop.md", "05-folder.md",
                             "06-device.md", "07-socket.md"]
    assert all(signature is not None for signature in listing.values())


def test_a_folder_that_cannot_be_listed_is_an_error_never_an_empty_folder(tmp_path):
    not_a_folder = tmp_path / "prds"
    not_a_folder.write_text("x")
    with pytest.raises(folder.FolderUnreadable):
        folder.list_prds(not_a_folder)
    assert folder.list_prds(tmp_path / "missing") == {}


@run
async def test_names_that_are_not_regular_files_are_read_as_unreadable_at_once_with_the_reason(prds):
    (prds / "01-good.md").write_text("A PRD.\n")
    with hostile_names(prds):
        started = time.monotonic()
        reads = await folder.read_prds(prds, sorted(os.listdir(prds)))
        elapsed = time.monotonic() - started
    by_name = {read.change.name: read.change for read in reads}
    assert elapsed < 2
    assert by_name["01-good.md"].data == b"A PRD.\n"
    assert "named pipe" in by_name["02-fifo.md"].unreadable.problem
    assert "broken link" in by_name["03-dangling.md"].unreadable.problem
    assert "symlink loop" in by_name["04-loop.md"].unreadable.problem
    assert "folder" in by_name["05-folder.md"].unreadable.problem
    assert "character device" in by_name["06-device.md"].unreadable.problem
    assert "socket" in by_name["07-socket.md"].unreadable.problem
    assert all(change.data is None for name, change in by_name.items() if name != "01-good.md")


@run
async def test_a_huge_file_is_read_only_as_far_as_the_size_limit(prds):
    with open(prds / "01-huge.md", "wb") as file:
        file.truncate(8 * 1024**3)  # sparse: 8 GiB that cost nothing on disk
    reads = await folder.read_prds(prds, ["01-huge.md"])
    assert len(reads[0].change.data) == MAX_PRD_BYTES + 1


@run
async def test_a_read_that_hangs_is_given_up_alone_and_the_rest_are_read(prds, monkeypatch):
    monkeypatch.setattr(folder, "READ_TIMEOUT", 0.3)
    for name in ("01-a.md", "02-stuck.md", "03-c.md"):
        (prds / name).write_text(f"{name}\n")

    def prepare(change):
        if change.name == "02-stuck.md":  # stands for a read stuck in the kernel (a dead mount)
            time.sleep(3)
        return change

    started = time.monotonic()
    reads = await folder.read_prds(prds, ["01-a.md", "02-stuck.md", "03-c.md"], prepare)
    assert time.monotonic() - started < 2
    by_name = {read.change.name: read.change for read in reads}
    assert by_name["01-a.md"].data == b"01-a.md\n" and by_name["03-c.md"].data == b"03-c.md\n"
    assert "could not be read within" in by_name["02-stuck.md"].unreadable.problem


def test_approving_a_held_plan_moves_it_into_prds_but_never_over_a_file_there(tmp_path):
    home = Home(tmp_path / "home")
    ensure_home(home)
    (home.fix_plans / "01-fix-a.md").write_text("the plan")
    (home.prds / "01-fix-a.md").write_text("the user's")
    with pytest.raises(FileExistsError):
        approve_plan(home, "01-fix-a")
    assert (home.prds / "01-fix-a.md").read_text() == "the user's"
    (home.prds / "01-fix-a.md").unlink()
    assert approve_plan(home, "01-fix-a") == home.prds / "01-fix-a.md"
    assert (home.prds / "01-fix-a.md").read_text() == "the plan" and not (home.fix_plans / "01-fix-a.md").exists()


def test_a_discarded_plan_is_kept_under_a_name_not_taken_yet(tmp_path):
    home = Home(tmp_path / "home")
    ensure_home(home)
    for text in ("first", "second"):
        (home.fix_plans / "01-fix-a.md").write_text(text)
        discard_plan(home, "01-fix-a")
    assert (home.fix_plans / "discarded" / "01-fix-a.md").read_text() == "first"
    assert (home.fix_plans / "discarded" / "01-fix-a.2.md").read_text() == "second"
    assert discard_plan(home, "01-fix-a") is None
