"""Reading prds/ (the listing and the files, off the event loop and never stuck), moving a
PRD into prds-archive/, and moving a held fix plan into prds/ or aside.

Whatever sits in the folder, one name cannot stop the others: a name that cannot be
listed or read becomes that PRD's problem (an invalid row), and a read that hangs (a dead
network mount) is given up after READ_TIMEOUT. Reads run on daemon threads (app.engine.threads).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.prd import MAX_PRD_BYTES, Unreadable, is_ignored
from app.core.reconcile import FileChange
from app.engine.threads import call_soon, resolve
from app.paths import FOLDER_MODE, Home, Signature, read_regular_file, signature

READ_TIMEOUT = 10.0  # seconds one file may take before it is listed as unreadable
PROGRESS_CHECK = 0.1


class FolderUnreadable(OSError):
    """prds/ itself cannot be listed: nothing in it may be taken as gone."""


@dataclass(frozen=True, slots=True)
class Read:
    change: FileChange
    signature: Signature | None  # as read, so a later rescan knows whether it moved since


def list_prds(folder: Path) -> dict[str, Signature | None]:
    """Blocking: every name in `folder` that could be a PRD, with its signature. Names that
    are not regular files are listed too: they show as invalid rather than vanish."""
    listing: dict[str, Signature | None] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not is_ignored(entry.name):
                    listing[entry.name] = signature(entry)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise FolderUnreadable(exc.errno, exc.strerror or str(exc)) from exc
    return dict(sorted(listing.items()))


def read_one(folder: Path, name: str) -> Read:
    read = read_regular_file(folder / name, MAX_PRD_BYTES)
    return Read(FileChange(name, read.data, read.unreadable), read.signature)


async def read_prds(
    folder: Path, names: Sequence[str], prepare: Callable[[FileChange], FileChange] = lambda change: change
) -> list[Read]:
    """Each name read (and `prepare`d: parsed) on a daemon thread, in order. A file that
    takes longer than READ_TIMEOUT is listed as unreadable and the rest are read on a new thread."""
    loop = asyncio.get_running_loop()
    done: list[Read] = []
    todo = list(names)
    while todo:
        batch, todo = todo, []
        results: list[Read] = []
        finished = loop.create_future()
        given_up = threading.Event()

        def work(batch: list[str] = batch, results: list[Read] = results, finished: asyncio.Future[None] = finished,
                 given_up: threading.Event = given_up) -> None:
            for name in batch:
                if given_up.is_set():
                    return
                read = read_one(folder, name)
                results.append(Read(prepare(read.change), read.signature))
            call_soon(loop, resolve, finished, None)

        threading.Thread(target=work, name="read prds", daemon=True).start()
        progress_at, seen = loop.time(), 0
        try:
            # Woken once at the end, or every PROGRESS_CHECK to see whether one file hangs.
            while not finished.done():
                await asyncio.wait([finished], timeout=PROGRESS_CHECK)
                if len(results) != seen:
                    progress_at, seen = loop.time(), len(results)
                elif not finished.done() and loop.time() - progress_at >= READ_TIMEOUT:
                    given_up.set()
                    stuck = batch[seen]
                    done += results[:seen]
                    done.append(Read(FileChange(stuck, None, _too_slow()), None))
                    todo = batch[seen + 1 :]
                    break
            else:
                done += results
        finally:
            given_up.set()
    return done


def _too_slow() -> Unreadable:
    return Unreadable(
        f"could not be read within {READ_TIMEOUT:g} s (a network folder that does not answer?)",
        "check the disk or mount it is on; it is read again when it changes",
    )


def archive_prd(home: Home, slug: str) -> Path | None:
    """Blocking: the PRD moved into prds-archive/ under a name not taken yet (never deleted)."""
    return _move_aside(home.prds / f"{slug}.md", home.archive)


def approve_plan(home: Home, slug: str) -> Path:
    """Blocking: the held fix plan moved from fix-plans/ into prds/. Raises FileExistsError when
    prds/ has a file of that name (it is never overwritten), FileNotFoundError when the plan is gone."""
    source, target = home.fix_plans / f"{slug}.md", home.prds / f"{slug}.md"
    os.link(source, target)  # refuses an existing target, where a rename would replace it
    source.unlink()
    return target


def discard_plan(home: Home, slug: str) -> Path | None:
    """Blocking: the held fix plan moved into fix-plans/discarded/ (never deleted); None if it was gone."""
    return _move_aside(home.fix_plans / f"{slug}.md", home.fix_plans / "discarded")


def _move_aside(source: Path, folder: Path) -> Path | None:
    """`source` moved into `folder` under a name not taken yet (`name.2.md`, …)."""
    if not source.exists():
        return None
    folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    target = folder / source.name
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"{source.stem}.{counter}.md"
    shutil.move(source, target)
    return target
