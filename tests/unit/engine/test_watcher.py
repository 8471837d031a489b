"""SPEC section 3: a PRD is read as soon as it is complete, never half-written."""

import asyncio
import logging
import os
import time

from app.engine.watcher import STABLE_FOR, FolderWatcher

from .harness import run, until


class Seen:
    def __init__(self) -> None:
        self.names: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        self.names.append((name, time.monotonic()))

    def of(self, name: str) -> list[float]:
        return [at for seen, at in self.names if seen == name]


async def watching(folder):
    seen = Seen()
    watcher = FolderWatcher(folder, seen)
    watcher.start()
    await asyncio.sleep(0.1)
    return watcher, seen


@run
async def test_a_file_closed_after_writing_is_ready_at_once(tmp_path):
    watcher, seen = await watching(tmp_path)
    try:
        start = time.monotonic()
        (tmp_path / "01-a.md").write_text("body")
        await until(lambda: seen.of("01-a.md"), timeout=5)
        assert seen.of("01-a.md")[0] - start < STABLE_FOR
    finally:
        watcher.stop()


@run
async def test_a_file_moved_into_the_folder_is_ready_at_once(tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.md"
    outside.write_text("body")
    watcher, seen = await watching(tmp_path)
    try:
        start = time.monotonic()
        os.rename(outside, tmp_path / "02-b.md")
        await until(lambda: seen.of("02-b.md"), timeout=5)
        assert seen.of("02-b.md")[0] - start < STABLE_FOR
    finally:
        watcher.stop()


@run
async def test_a_slow_writer_is_not_read_until_it_is_done(tmp_path):
    watcher, seen = await watching(tmp_path)
    try:
        with open(tmp_path / "03-slow.md", "w") as file:
            for _ in range(6):
                file.write("more text\n")
                file.flush()
                last_write = time.monotonic()
                await asyncio.sleep(0.1)
            assert seen.of("03-slow.md") == []
            await asyncio.sleep(STABLE_FOR + 0.3)
            # Still open but stable for 300 ms: read once.
            assert len(seen.of("03-slow.md")) == 1
            assert seen.of("03-slow.md")[0] >= last_write + STABLE_FOR - 0.05
    finally:
        watcher.stop()


@run
async def test_a_deleted_file_is_reported(tmp_path):
    (tmp_path / "04-gone.md").write_text("body")
    watcher, seen = await watching(tmp_path)
    try:
        (tmp_path / "04-gone.md").unlink()
        await until(lambda: seen.of("04-gone.md"), timeout=5)
    finally:
        watcher.stop()


def test_watchdogs_error_for_a_read_cut_short_by_stopping_is_not_shown_but_its_other_errors_are(caplog):
    inotify = logging.getLogger("watchdog.observers.inotify")
    inotify.error("InotifyEmitter.queue_events() called when the thread is inactive")
    inotify.error("inotify watch limit reached")
    assert [record.getMessage() for record in caplog.records] == ["inotify watch limit reached"]
