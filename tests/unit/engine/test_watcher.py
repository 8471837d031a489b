"""A PRD in the watched folder is read as soon as it is complete, never half-written.

The watcher measures its 300 ms window on the event loop's clock. These tests run it on a
loop whose clock stands still until the test moves it, so "at once" and "not yet" say the
same on a busy machine as on an idle one.
"""

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.engine.watcher import STABLE_FOR, FolderWatcher
from tests.support import wait_until


class HeldClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only in `advance`: a timer fires when the test says
    its time has come, never because the machine was slow."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0

    def time(self) -> float:
        return self._now

    async def advance(self, seconds: float) -> None:
        """Moves the clock, then returns once every timer now due has run."""
        self._now += seconds
        due = self.create_future()
        self.call_at(self._now, due.set_result, None)  # due with them: runs in the same turn
        await due


def held_clock(test: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with asyncio.Runner(loop_factory=HeldClockLoop) as runner:
            return runner.run(test(*args, **kwargs))

    return wrapper


def clock() -> HeldClockLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, HeldClockLoop)
    return loop


class Seen:
    """The names the watcher reported, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str) -> None:
        self.names.append(name)

    def count(self, name: str) -> int:
        return self.names.count(name)

    async def wait_for(self, name: str) -> None:
        """On a thread: the loop's clock stands still, so a wait on the loop would too."""
        await asyncio.to_thread(wait_until, lambda: name in self.names, 5)


def watching(folder: Path) -> tuple[FolderWatcher, Seen]:
    seen = Seen()
    watcher = FolderWatcher(folder, seen)
    watcher.start()
    return watcher, seen


async def heard(folder: Path, seen: Seen) -> None:
    """Until the watcher has handled every change made in the folder so far: the folder's
    changes reach it in order, and a file closed after writing is reported at once."""
    marker = folder / f"zz-heard-{len(seen.names)}.md"
    marker.write_text("")
    await seen.wait_for(marker.name)


@held_clock
async def test_a_file_closed_after_writing_is_ready_at_once(tmp_path):
    watcher, seen = watching(tmp_path)
    try:
        (tmp_path / "01-a.md").write_text("body")
        await seen.wait_for("01-a.md")  # the clock never moved: no stability window passed
    finally:
        watcher.stop()


@held_clock
async def test_a_file_moved_into_the_folder_is_ready_at_once(tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.md"
    outside.write_text("body")
    watcher, seen = watching(tmp_path)
    try:
        os.rename(outside, tmp_path / "02-b.md")
        await seen.wait_for("02-b.md")
    finally:
        watcher.stop()


@held_clock
async def test_a_slow_writer_is_not_read_until_it_is_done(tmp_path):
    watcher, seen = watching(tmp_path)
    try:
        with open(tmp_path / "03-slow.md", "w") as file:
            for _ in range(4):
                file.write("more text\n")
                file.flush()
                await heard(tmp_path, seen)
                # Half a window since this write, a whole one since the one before: each
                # write starts the window again.
                await clock().advance(STABLE_FOR / 2)
                assert seen.count("03-slow.md") == 0
            await clock().advance(STABLE_FOR / 2)
            # Still open but stable for 300 ms: read once.
            assert seen.count("03-slow.md") == 1
    finally:
        watcher.stop()


@held_clock
async def test_a_change_the_watcher_did_not_hear_of_still_restarts_the_window(tmp_path):
    """Written through a link in another folder, the change raises no event here: only the
    look at the file when the window ends can notice it (as with events that come late)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    prds = tmp_path / "prds"
    prds.mkdir()
    watcher, seen = watching(prds)
    try:
        with open(prds / "04-linked.md", "w") as file:
            file.write("first part\n")
            file.flush()
            await heard(prds, seen)
            os.link(prds / "04-linked.md", elsewhere / "04-linked.md")
            with open(elsewhere / "04-linked.md", "a") as other:
                other.write("second part\n")
            await clock().advance(STABLE_FOR)
            assert seen.count("04-linked.md") == 0
            await clock().advance(STABLE_FOR)
            assert seen.count("04-linked.md") == 1
    finally:
        watcher.stop()


@held_clock
async def test_a_deleted_file_is_reported(tmp_path):
    (tmp_path / "04-gone.md").write_text("body")
    watcher, seen = watching(tmp_path)
    try:
        (tmp_path / "04-gone.md").unlink()
        await seen.wait_for("04-gone.md")
    finally:
        watcher.stop()


def test_watchdogs_error_for_a_read_cut_short_by_stopping_is_not_shown_but_its_other_errors_are(caplog):
    inotify = logging.getLogger("watchdog.observers.inotify")
    inotify.error("InotifyEmitter.queue_events() called when the thread is inactive")
    inotify.error("inotify watch limit reached")
    assert [record.getMessage() for record in caplog.records] == ["inotify watch limit reached"]
