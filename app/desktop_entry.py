"""`overnight install-desktop` (docs/BEHAVIOUR.md section 11): the menu entry, its icon and, when
asked, the autostart entry, for the current user under the XDG folders, started the way this
Overnight was started. Only files it wrote itself are replaced or removed: a desktop entry is its
own when it carries `MARK`; the icon when it is byte for byte the app's, or the menu entry beside
it is its own (an icon of an older version)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app.paths import resource, self_command

NAME = "overnight.desktop"
MARK = "X-Overnight-Installed-By=overnight install-desktop"
# Characters that make an Exec argument need quotes (the Desktop Entry Specification, "The Exec key").
RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


@dataclass(frozen=True)
class Places:
    """Where the files go: $XDG_DATA_HOME (~/.local/share) and $XDG_CONFIG_HOME (~/.config)."""

    menu: Path
    icon: Path
    autostart: Path

    @classmethod
    def for_user(cls) -> Places:
        data, config = platformdirs.user_data_path(), platformdirs.user_config_path()
        return cls(
            menu=data / "applications" / NAME,
            icon=data / "icons" / "hicolor" / "scalable" / "apps" / "overnight.svg",
            autostart=config / "autostart" / NAME,
        )


def launch_command(argv0: str) -> list[str]:
    """How this Overnight was started, as a command that starts it again from anywhere: the
    `overnight` script (a venv's, or a link to it, kept as the user named it), else the built
    binary or this Python running the package."""
    if not getattr(sys, "frozen", False) and Path(argv0).name == "overnight":
        return [os.path.abspath(argv0)]
    return self_command()


def entry_text(command: Sequence[str]) -> str:
    """The packaged entry with Exec and TryExec pointing at `command`, and the mark."""
    lines = []
    for line in resource(NAME).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(_exec_argument(arg) for arg in [*command, "gui"])
        elif line.startswith("TryExec="):
            line = "TryExec=" + _escaped(command[0])
        lines.append(line)
    return "\n".join([*lines, MARK, ""])


def _exec_argument(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if not arg or RESERVED.intersection(arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return _escaped(arg)


def _escaped(value: str) -> str:
    """A desktop entry string value: backslashes and line breaks escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def install(places: Places, command: Sequence[str], autostart: bool) -> tuple[list[str], bool]:
    """Writes the menu entry and the icon, and the autostart entry when asked or when it wrote one
    before. Returns what it said about each file and whether every one is in place."""
    entry = entry_text(command).encode()
    ours = _ours(places)
    wanted = [(places.menu, entry), (places.icon, resource("icons", "overnight.svg").read_bytes())]
    if autostart or places.autostart in ours:  # an autostart entry it wrote follows the menu entry
        wanted.append((places.autostart, entry))
    said, ok = [], True
    for path, data in wanted:
        if path.is_file() and path.read_bytes() == data:
            said.append(f"unchanged {path}")
        elif path.exists() and path not in ours:
            said.append(f"refused {path}: it was not written by `overnight install-desktop`; move it aside "
                        "and run this again")
            ok = False
        else:
            try:
                _write(path, data)
            except OSError as exc:
                said.append(f"could not write {path}: {exc.strerror or exc} — check that its folder can be written")
                ok = False
            else:
                said.append(f"installed {path}")
    return said, ok


def uninstall(places: Places, autostart_only: bool) -> list[str]:
    """Removes the files `install` wrote (only the autostart entry when `autostart_only`),
    keeping any other file at those places."""
    paths = [places.autostart] if autostart_only else [places.menu, places.icon, places.autostart]
    ours = _ours(places)
    said = []
    for path in paths:
        if not path.exists():
            continue
        if path in ours:
            path.unlink()
            said.append(f"removed {path}")
        else:
            said.append(f"kept {path}: it was not written by `overnight install-desktop`")
    return said


def _ours(places: Places) -> set[Path]:
    """The files at `places` that install-desktop wrote."""
    ours = {path for path in (places.menu, places.autostart) if MARK.encode() in _read(path).splitlines()}
    if places.menu in ours or _read(places.icon) == resource("icons", "overnight.svg").read_bytes():
        ours.add(places.icon)
    return ours


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # not there, or not a file
        return b""


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a desktop menu never reads half an entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_bytes(data)
    part.chmod(0o644)
    os.replace(part, path)
