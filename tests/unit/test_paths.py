import os
import stat
from contextlib import contextmanager
from pathlib import Path

import platformdirs
import pytest

from app.paths import (
    Home,
    ensure_home,
    open_private,
    private_opener,
    resolve_home,
    write_private_atomically,
)


@contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fake_data_dir(monkeypatch, tmp_path):
    calls = []

    def user_data_dir(appname, appauthor=None):
        calls.append((appname, appauthor))
        return str(tmp_path / "platform-data" / appname)

    monkeypatch.setattr(platformdirs, "user_data_dir", user_data_dir)
    return calls


def test_home_names_every_path_of_the_on_disk_layout():
    home = Home(Path("/h"))

    assert home.config == Path("/h/config.yaml")
    assert home.queue == Path("/h/queue.json")
    assert home.queue_backup == Path("/h/queue.json.bak")
    assert home.history == Path("/h/history.jsonl")
    assert home.prds == Path("/h/prds")
    assert home.archive == Path("/h/prds-archive")
    assert home.runs == Path("/h/runs")
    assert home.logs == Path("/h/logs")
    assert home.log_file == Path("/h/logs/overnight.log")
    assert home.heartbeat == Path("/h/logs/heartbeat.jsonl")
    assert home.socket == Path("/h/engine.sock")
    assert home.lock == Path("/h/engine.lock")
    assert home.run_dir("20250101-0200-ab12") == Path("/h/runs/20250101-0200-ab12")


@pytest.mark.parametrize("run_id", ["", ".", "..", "../escape", "a/b", "/abs"])
def test_a_run_id_cannot_point_outside_the_runs_folder(run_id):
    with pytest.raises(ValueError):
        Home(Path("/h")).run_dir(run_id)


def test_home_flag_wins_over_environment_and_platform_dir(tmp_path, fake_data_dir):
    home = resolve_home(str(tmp_path / "flag"), {"OVERNIGHT_HOME": str(tmp_path / "env")})

    assert home.root == tmp_path / "flag"
    assert fake_data_dir == []


def test_overnight_home_wins_over_platform_dir(tmp_path, fake_data_dir):
    home = resolve_home(None, {"OVERNIGHT_HOME": str(tmp_path / "env")})

    assert home.root == tmp_path / "env"


def test_platform_data_dir_is_the_default_home(tmp_path, fake_data_dir):
    home = resolve_home(None, {})

    assert home.root == tmp_path / "platform-data" / "overnight"
    assert fake_data_dir == [("overnight", False)]


def test_an_empty_overnight_home_counts_as_unset(tmp_path, fake_data_dir):
    home = resolve_home(None, {"OVERNIGHT_HOME": ""})

    assert home.root == tmp_path / "platform-data" / "overnight"


def test_an_empty_home_flag_is_refused_rather_than_falling_back_to_the_real_home(fake_data_dir):
    with pytest.raises(ValueError, match="--home"):
        resolve_home("", {})


def test_home_expands_tilde_and_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.chdir(tmp_path)

    assert resolve_home("~/queue", {}).root == tmp_path / "user" / "queue"
    assert resolve_home(None, {"OVERNIGHT_HOME": "~/env-queue"}).root == tmp_path / "user" / "env-queue"
    assert resolve_home("relative/q", {}).root == tmp_path / "relative" / "q"
    assert resolve_home("relative/../q", {}).root == tmp_path / "q"


def test_ensure_home_creates_every_folder_0700_even_with_umask_0(tmp_path):
    home = Home(tmp_path / "deep" / "home")

    with umask(0):
        ensure_home(home)

    for folder in (home.root, home.prds, home.archive, home.runs, home.logs):
        assert folder.is_dir()
        assert mode(folder) == 0o700, folder


def test_ensure_home_creates_folders_usable_by_their_owner_even_with_a_strict_umask(tmp_path):
    home = Home(tmp_path / "home")

    with umask(0o777):
        ensure_home(home)

    assert mode(home.root) == 0o700
    assert mode(home.prds) == 0o700


def test_ensure_home_removes_group_and_other_access_from_existing_overnight_folders(tmp_path):
    home = Home(tmp_path / "home")
    home.root.mkdir()
    home.prds.mkdir()
    home.logs.mkdir()
    os.chmod(home.prds, 0o755)
    os.chmod(home.logs, 0o577)

    ensure_home(home)

    assert mode(home.prds) == 0o700
    assert mode(home.logs) == 0o500


def test_ensure_home_leaves_an_existing_root_folder_as_the_user_set_it(tmp_path):
    root = tmp_path / "my-folder"
    root.mkdir()
    os.chmod(root, 0o755)

    ensure_home(Home(root))

    assert mode(root) == 0o755


def test_ensure_home_leaves_the_target_of_a_symlinked_prds_folder_alone(tmp_path):
    shared = tmp_path / "shared-prds"
    shared.mkdir()
    os.chmod(shared, 0o755)
    home = Home(tmp_path / "home")
    home.root.mkdir()
    home.prds.symlink_to(shared)

    ensure_home(home)

    assert mode(shared) == 0o755


def test_ensure_home_twice_changes_nothing(tmp_path):
    home = Home(tmp_path / "home")
    ensure_home(home)
    (home.prds / "01-a.md").write_text("x")

    ensure_home(home)

    assert (home.prds / "01-a.md").read_text() == "x"
    assert mode(home.prds) == 0o700


def test_ensure_home_refuses_a_file_where_a_folder_belongs(tmp_path):
    home = Home(tmp_path / "home")
    home.root.mkdir()
    home.runs.write_text("not a folder")

    with pytest.raises(NotADirectoryError, match="runs"):
        ensure_home(home)


def test_open_private_creates_files_0600_even_with_umask_0(tmp_path):
    with umask(0):
        with open_private(tmp_path / "transcript.jsonl", "w") as file:
            file.write("{}\n")
        with open(tmp_path / "log.txt", "ab", opener=private_opener) as file:
            file.write(b"line\n")

    assert mode(tmp_path / "transcript.jsonl") == 0o600
    assert mode(tmp_path / "log.txt") == 0o600


def test_open_private_tightens_an_existing_file_it_writes_to(tmp_path):
    log = tmp_path / "overnight.log"
    log.write_text("old\n")
    os.chmod(log, 0o644)

    with open_private(log, "a") as file:
        file.write("new\n")

    assert mode(log) == 0o600
    assert log.read_text() == "old\nnew\n"


def test_open_private_for_reading_leaves_the_mode_alone(tmp_path):
    prd = tmp_path / "01-a.md"
    prd.write_text("body")
    os.chmod(prd, 0o644)

    with open_private(prd, "r") as file:
        assert file.read() == "body"

    assert mode(prd) == 0o644


def test_atomic_write_replaces_the_file_0600_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "queue.json"
    target.write_text("old")
    os.chmod(target, 0o644)

    with umask(0):
        write_private_atomically(target, b"new")

    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json"]


def test_a_failed_atomic_write_keeps_the_previous_file_and_cleans_up(tmp_path):
    target = tmp_path / "queue.json"
    target.write_text("old")

    with pytest.raises(TypeError):
        write_private_atomically(target, "not bytes")  # type: ignore[arg-type]

    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json"]
