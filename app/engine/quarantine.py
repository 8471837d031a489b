"""Starting never fails because of what is in the home.

Before the engine reads anything, whatever stands where a folder or a file of the home
must be and cannot serve (a file named `runs`, a folder named `history.jsonl`, a FIFO
named `config.yaml`, a broken link) is moved aside, never deleted, and reported. A file
whose content is bad (queue.json, config.yaml) is its reader's business: it is kept aside
or kept as it is by the store and the config loader.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.paths import Home, ensure_home, ensure_root


@dataclass(frozen=True, slots=True)
class Quarantined:
    path: Path
    moved_to: Path | None  # None: it could not be moved either
    problem: str

    def message(self) -> str:
        where = f"moved to {self.moved_to.name}" if self.moved_to else "it could not be moved aside"
        return f"{self.path} {self.problem}; {where}"


def prepare_home(home: Home, now: dt.datetime) -> list[Quarantined]:
    """The home's folders made (0700), with what stood in their way or in the way of its
    files moved aside. Raises OSError only when the home itself cannot be made."""
    ensure_root(home)
    moved = [
        *_clear(home.folders, _is_folder, "is not a folder", now),
        *_clear((home.config, home.queue, home.queue_backup, home.history), _is_file, "is not a regular file", now),
        *_clear((home.socket,), _is_socket, "is not a socket", now),
    ]
    ensure_home(home)
    moved += _clear((home.log_file, home.heartbeat), _is_file, "is not a regular file", now)
    return moved


def move_aside(path: Path, now: dt.datetime) -> Path:
    """`path` renamed to `<name>.quarantined-<time>` beside it (a free name); raises OSError."""
    tag = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.quarantined-{tag}")
    counter = 1
    while os.path.lexists(target):
        counter += 1
        target = path.with_name(f"{path.name}.quarantined-{tag}-{counter}")
    os.rename(path, target)
    return target


def _clear(
    paths: tuple[Path, ...], usable: Callable[[Path], bool], problem: str, now: dt.datetime
) -> list[Quarantined]:
    moved = []
    for path in paths:
        if not os.path.lexists(path) or usable(path):
            continue
        try:
            target: Path | None = move_aside(path, now)
        except OSError:
            target = None
        moved.append(Quarantined(path, target, problem))
    return moved


def _mode(path: Path) -> int | None:
    try:
        return os.stat(path).st_mode  # what a link points to: a broken link or a loop is unusable
    except OSError:
        return None


def _is_folder(path: Path) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISDIR(mode)


def _is_file(path: Path) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISREG(mode)


def _is_socket(path: Path) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISSOCK(mode)
