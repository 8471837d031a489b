"""Adding PRDs to the queue from elsewhere (`overnight add`, drag and drop): validated first,
then copied into prds/ with a group prefix when the name has none."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.config import Config
from app.core.prd import (
    MAX_PRD_BYTES,
    Prd,
    PrdError,
    has_group_prefix,
    parse_prd,
    suggest_name,
    without_group_prefix,
)
from app.paths import Home, read_regular_file, write_private_atomically


@dataclass(frozen=True, slots=True)
class Added:
    source: Path
    target: Path
    group: int


@dataclass(frozen=True, slots=True)
class Refused:
    source: Path
    reason: str


def target_name(source: Path, group: int | None, prd: Prd | None = None) -> str:
    """The name in prds/: kept when it starts with a number, else `NN-` from --group, the
    frontmatter's parallelGroup, or 99 (the group of a name without a number)."""
    name = suggest_name(source.name) if source.suffix == ".md" else suggest_name(source.stem + ".md")
    if has_group_prefix(name) and group is None:
        return name
    if group is None:
        group = prd.group if prd is not None else 99
    return f"{group:02d}-{without_group_prefix(name)}"


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder stands for the .md files directly inside it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix == ".md" and p.is_file()))
        else:
            files.append(path)
    return files


def add_prds(home: Home, config: Config, paths: Iterable[Path], group: int | None = None) -> list[Added | Refused]:
    results: list[Added | Refused] = []
    for source in expand(paths):
        results.append(_add_one(home, config, source, group))
    return results


def _add_one(home: Home, config: Config, source: Path, group: int | None) -> Added | Refused:
    read = read_regular_file(source, MAX_PRD_BYTES)
    if read.unreadable is not None:
        return Refused(source, f"{source}: {read.unreadable.problem} — {read.unreadable.fix}")
    if read.data is None:
        return Refused(source, f"{source}: does not exist")
    data = read.data
    provisional = target_name(source, group)
    parsed = parse_prd(
        provisional,
        data,
        path=str(source),
        default_cwd=config.resolved_default_cwd(),
        default_model=config.agent.model,
    )
    if isinstance(parsed, PrdError):
        return Refused(source, parsed.one_line())
    name = target_name(source, group, parsed)
    target = home.prds / name
    if target.exists():
        if target.read_bytes() == data:
            return Refused(source, f"{source}: already in the queue as {name}")
        return Refused(source,
                       f"{source}: prds/{name} exists with other content — rename the file or remove the old one")
    # Written under a hidden name and renamed in: the watcher sees one complete file.
    write_private_atomically(target, data)
    os.utime(target)
    final_group = group if group is not None else parsed.group
    return Added(source, target, final_group)
