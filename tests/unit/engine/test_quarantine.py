"""Starting never fails because of what is in the home: what stands in the way is moved aside."""

import datetime as dt
import os
import shutil
import socket

from app.core.queue import Status
from app.engine.quarantine import prepare_home
from app.paths import Home
from tests.support import write_prd

from .harness import Running, run, until

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


def clutter(home: Home, config: bool = True) -> None:
    """Everything in the wrong shape where the engine keeps its files and folders."""
    home.root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home.runs, ignore_errors=True)
    home.runs.write_text("a file where runs/ goes")
    home.logs.mkdir(exist_ok=True)
    home.log_file.mkdir()  # a folder where the log file goes
    home.history.mkdir()
    os.mkfifo(home.queue_backup)
    if config:
        os.symlink("nowhere.yaml", home.config)
    home.socket.write_text("not a socket")


def test_what_stands_where_a_folder_or_file_of_the_home_goes_is_moved_aside_never_deleted(tmp_path):
    home = Home(tmp_path / "home")
    clutter(home)
    moved = prepare_home(home, NOW)
    assert sorted(item.path.name for item in moved) == sorted(
        ["runs", "overnight.log", "history.jsonl", "queue.json.bak", "config.yaml", "engine.sock"])
    assert all(item.moved_to is not None and os.path.lexists(item.moved_to) for item in moved)
    assert (home.root / "runs.quarantined-20261122T030000Z").read_text() == "a file where runs/ goes"
    assert all(folder.is_dir() for folder in home.folders)
    assert not os.path.lexists(home.history) and not os.path.lexists(home.config)
    assert prepare_home(home, NOW) == []


def test_a_live_socket_and_regular_files_are_left_alone(tmp_path):
    home = Home(tmp_path / "home")
    home.root.mkdir()
    home.config.write_text("concurrency_cap: 2\n")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(home.socket))
        assert prepare_home(home, NOW) == []
    assert home.config.read_text() == "concurrency_cap: 2\n"


@run
async def test_an_engine_starts_in_a_cluttered_home_says_what_it_moved_and_runs_the_queue(tmp_path):
    r = Running(tmp_path)
    clutter(r.home, config=False)
    write_prd(r.home, "01-a.md", '@fake text "ran"\n')
    async with r:
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        moved = {event["path"] for event in r.named("home.quarantined")}
        assert {str(r.home.runs), str(r.home.history), str(r.home.log_file)} <= moved
        assert any("history.jsonl" in problem and "moved to" in problem for problem in r.engine.problems())
