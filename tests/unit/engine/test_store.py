"""Durability: atomic queue.json with a backup, a damaged file never read as empty."""

import asyncio
import datetime as dt
import errno
import json
import stat

import pytest

from app.core.queue import PauseReason, QueueState, Status
from app.engine import store
from app.paths import Home, ensure_home
from tests.unit.core.factories import job

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    ensure_home(home)
    return home


def save(home: Home, *states: QueueState) -> None:
    async def go() -> None:
        writer = store.QueueWriter(home)
        for state in states:
            writer.save(state)
            await writer.flush()
        writer.close()

    asyncio.run(go())


def state_with(*slugs: str) -> QueueState:
    return QueueState(jobs={slug: job(slug) for slug in slugs})


def test_a_saved_queue_loads_back_and_the_previous_file_is_kept_as_the_backup(home):
    save(home, state_with("01-a"), state_with("01-a", "02-b"))
    assert set(store.load(home, NOW).state.jobs) == {"01-a", "02-b"}
    assert [j["slug"] for j in json.loads(home.queue_backup.read_text())["jobs"]] == ["01-a"]
    assert stat.S_IMODE(home.queue.stat().st_mode) == 0o600


def test_saves_made_faster_than_the_disk_are_coalesced_into_the_latest(home):
    async def go() -> None:
        writer = store.QueueWriter(home)
        for index in range(50):
            writer.save(state_with(*(f"{i:02d}-x" for i in range(index + 1))))
        await writer.flush()
        writer.close()

    asyncio.run(go())
    assert len(store.load(home, NOW).state.jobs) == 50


def test_no_temporary_files_are_left_behind(home):
    save(home, state_with("01-a"), state_with("01-b"), state_with("01-c"))
    assert sorted(p.name for p in home.root.iterdir() if p.is_file()) == ["queue.json", "queue.json.bak"]


def test_a_damaged_queue_is_moved_aside_and_the_backup_is_used(home):
    save(home, state_with("01-a"), state_with("01-a", "02-b"))
    home.queue.write_text('{"schemaVersion": 1, "jobs": [{"slug": ')
    loaded = store.load(home, NOW)
    assert set(loaded.state.jobs) == {"01-a"}
    assert loaded.state.paused is None
    assert "restored from queue.json.bak" in loaded.warning
    aside = list(home.root.glob("queue.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"schemaVersion": 1, "jobs": [{"slug": ')


def test_a_damaged_queue_without_a_usable_backup_starts_paused_with_reason_state_never_empty_and_running(home):
    home.queue.write_text("not json at all")
    loaded = store.load(home, NOW)
    assert loaded.state.paused.reason is PauseReason.STATE
    assert "Resume" in loaded.state.paused.message
    assert (home.root / f"queue.json.corrupt-{NOW:%Y%m%dT%H%M%SZ}").read_text() == "not json at all"


def test_a_queue_from_a_newer_overnight_is_kept_aside_and_the_queue_starts_paused(home):
    newer = json.dumps({"schemaVersion": 99, "jobs": []})
    home.queue.write_text(newer)
    home.queue_backup.write_text(newer)
    loaded = store.load(home, NOW)
    assert loaded.state.paused.reason is PauseReason.STATE
    assert "newer Overnight" in loaded.warning and "queue.json.newer-" in loaded.warning
    assert (home.root / f"queue.json.newer-{NOW:%Y%m%dT%H%M%SZ}").read_text() == newer
    assert home.queue_backup.read_text() == newer


def test_history_lines_are_appended_never_rewritten(home):
    async def go() -> None:
        writer = store.QueueWriter(home)
        writer.append_history({"event": "run.finished", "slug": "01-a"})
        await writer.flush()
        writer.append_history({"event": "removed", "slug": "01-a"})
        await writer.flush()
        writer.close()

    home.history.write_text('{"event": "older"}\n')
    asyncio.run(go())
    assert [json.loads(line)["event"] for line in home.history.read_text().splitlines()] == [
        "older",
        "run.finished",
        "removed",
    ]


def test_jobs_keep_their_status_across_a_save_and_load(home):
    state = QueueState(jobs={"01-a": job("01-a", Status.FAILED), "02-b": job("02-b", Status.RUNNING)})
    save(home, state)
    loaded = store.load(home, NOW).state
    assert loaded.jobs["01-a"].status is Status.FAILED
    assert loaded.jobs["02-b"].current == state.jobs["02-b"].current


class FullDisk:
    """ENOSPC from every write of queue.json and history.jsonl while `full` is set."""

    def __init__(self, monkeypatch) -> None:
        self.full = True
        real_write, real_open = store.write_private_atomically, store.open_private

        def write(path, data):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real_write(path, data)

        def open_(path, mode="w", **kwargs):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real_open(path, mode, **kwargs)

        monkeypatch.setattr(store, "write_private_atomically", write)
        monkeypatch.setattr(store, "open_private", open_)


def test_writes_that_fail_lose_nothing_are_reported_and_are_written_once_the_disk_has_room(home, monkeypatch):
    save(home, state_with("01-a"))
    disk = FullDisk(monkeypatch)
    problems: list = []

    async def go() -> None:
        writer = store.QueueWriter(home, problems.append, asyncio.get_running_loop())
        writer.append_history({"event": "run.finished", "slug": "01-a"})
        writer.save(state_with("01-a", "02-b"))
        with pytest.raises(store.WriteFailed, match="No space left on device"):
            await writer.flush()
        writer.append_history({"event": "removed", "slug": "01-a"})
        writer.save(state_with("02-b", "03-c"))
        with pytest.raises(store.WriteFailed):
            await writer.flush()
        disk.full = False
        writer.retry()
        await writer.flush()
        await asyncio.sleep(0)  # the writer's report reaches the loop
        writer.close()

    asyncio.run(go())
    assert [problem.path if problem else None for problem in problems] == [home.history, None]
    assert set(store.load(home, NOW).state.jobs) == {"02-b", "03-c"}
    assert [json.loads(line)["event"] for line in home.history.read_text().splitlines()] == ["run.finished",
                                                                                            "removed"]


def test_a_history_append_cut_short_stays_one_bad_line_and_the_next_lines_are_whole(home):
    home.history.write_text('{"event": "run.finished"}\n{"event": "remo')

    async def go() -> None:
        writer = store.QueueWriter(home)
        writer.append_history({"event": "archived", "slug": "01-a"})
        await writer.flush()
        writer.close()

    asyncio.run(go())
    lines = home.history.read_text().splitlines()
    assert lines[1] == '{"event": "remo'
    assert json.loads(lines[2]) == {"event": "archived", "slug": "01-a"}


@pytest.mark.parametrize("kind", ["newer", "corrupt"])
def test_a_queue_json_that_cannot_be_moved_aside_still_lets_the_engine_start_paused(home, monkeypatch, kind):
    document = {"schemaVersion": 99, "jobs": []} if kind == "newer" else "not json"
    home.queue.write_text(json.dumps(document) if kind == "newer" else document)
    monkeypatch.setattr(store.os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError(13, "denied")))
    loaded = store.load(home, NOW)
    assert loaded.state.paused.reason is PauseReason.STATE
    assert "could not be moved aside" in loaded.warning
