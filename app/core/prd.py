"""One PRD file's bytes and name → a `Prd` value or a `PrdError` (docs/BEHAVIOUR.md section 3).

Only what can be decided from the file alone lives here; `dependsOn` naming no PRD
and dependency cycles need the whole folder and are checked in `reconcile`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum, unique
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from app.core.bounded_yaml import YamlProblem, read_yaml
from app.core.text import shorten
from app.core.workspace import MODES, SHARED, WORKTREE, WorkspaceProblem

MAX_PRD_BYTES = 1024 * 1024
DEFAULT_GROUP = 99
MAX_GROUP = 999_999_999
MAX_EXTRA_BYTES = 16 * 1024  # one unknown key's value, as JSON: kept in queue.json for every job
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.md$")
KNOWN_KEYS = (
    "title", "cwd", "parallelGroup", "estimateMinutes", "model", "dependsOn", "verify", "workspace", "base",
    "expectChanges",
)

_IGNORED_SUFFIXES = ("~", ".swp", ".tmp", ".part", ".crdownload")
_GROUP_PREFIX = re.compile(r"^(\d+)-")
_YAML = YAMLHandler()


@unique
class PrdErrorKind(StrEnum):
    FILE = "file"  # the file itself
    DEPENDENCY = "dependency"  # its place among the others: dependsOn names no PRD, or a cycle


@dataclass(frozen=True, slots=True)
class PrdError:
    """What is wrong with a PRD, where, and how to fix it."""

    path: str
    line: int | None
    problem: str
    fix: str
    kind: PrdErrorKind = PrdErrorKind.FILE

    def one_line(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.problem} — {self.fix}"


@dataclass(frozen=True, slots=True)
class Prd:
    slug: str
    title: str
    cwd: str
    group: int
    estimate_minutes: float | None
    model: str
    depends_on: tuple[str, ...]
    verify: tuple[str, ...] | None  # shell commands that check its run; None: the config's
    extra: Mapping[str, Any]
    body: str
    content_hash: str
    workspace: str = SHARED
    base: str | None = None  # the git ref a worktree starts from, instead of the integration branch
    expect_changes: bool = True


# (cwd, base) → why that PRD cannot run in a worktree; the engine's is `worktrees.workspace_problem`.
WorkspaceCheck = Callable[[str, "str | None"], "WorkspaceProblem | None"]


def no_workspace_check(_cwd: str, _base: str | None) -> WorkspaceProblem | None:
    return None


def is_ignored(name: str) -> bool:
    """Editor droppings, partial downloads and anything not ending in .md are not PRDs."""
    return name.startswith(".") or name.endswith(_IGNORED_SUFFIXES) or not name.endswith(".md")


def slug_of(name: str) -> str:
    return name[:-3] if name.endswith(".md") else name


def group_from_name(name: str) -> int:
    """The group a name's leading number says ("07-add-login.md" → 7), else DEFAULT_GROUP."""
    match = _GROUP_PREFIX.match(name)
    return int(match.group(1)) if match else DEFAULT_GROUP


def has_group_prefix(name: str) -> bool:
    """The name starts with its group's number and a dash, as "07-add-login.md" does."""
    return _GROUP_PREFIX.match(name) is not None


def without_group_prefix(name: str) -> str:
    """The name without its leading number and dash: "07-add-login" → "add-login"."""
    return _GROUP_PREFIX.sub("", name, count=1)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_prd(
    name: str,
    data: bytes,
    *,
    path: str,
    default_cwd: str,
    default_model: str,
    is_dir: Callable[[str], bool] = os.path.isdir,
    default_workspace: str = SHARED,
    check_workspace: WorkspaceCheck = no_workspace_check,
) -> Prd | PrdError:
    """Validate one PRD. `data` may be cut at MAX_PRD_BYTES + 1: more is never needed;
    `check_workspace` looks at git for a PRD that runs in a worktree.
    Never raises: whatever goes wrong with one file makes that file invalid, nothing else."""
    try:
        return _parse(name, data, path, _Defaults(default_cwd, default_model, is_dir, default_workspace,
                                                  check_workspace))
    except Exception as exc:
        return PrdError(
            path=path,
            line=None,
            problem=f"the file could not be read ({type(exc).__name__}: {shorten(str(exc), 200, '...')})",
            fix="simplify the frontmatter to plain 'key: value' lines",
        )


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Why a name in prds/ has no content to parse (a FIFO, a broken link, a read error)."""

    problem: str
    fix: str

    def error(self, path: str) -> PrdError:
        return PrdError(path=path, line=None, problem=self.problem, fix=self.fix)


@dataclass(frozen=True, slots=True)
class _Defaults:
    cwd: str
    model: str
    is_dir: Callable[[str], bool]
    workspace: str
    check_workspace: WorkspaceCheck


def _parse(name: str, data: bytes, path: str, defaults: _Defaults) -> Prd | PrdError:
    slug = slug_of(name)

    def error(problem: str, fix: str, line: int | None = None) -> PrdError:
        return PrdError(path=path, line=line, problem=problem, fix=fix)

    if not NAME_PATTERN.match(name):
        return error(
            f"the file name {name!r} is not a valid PRD name",
            f"rename it to {suggest_name(name)!r} (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 128 characters before .md)",
        )
    if len(data) > MAX_PRD_BYTES:
        return error(
            "the file is larger than 1 MiB",
            "move long material into files in the project and refer to them from the PRD",
        )
    if b"\x00" in data:
        return error(
            "the file contains a NUL byte (it looks binary)",
            "save it as plain UTF-8 text",
            line=data.count(b"\n", 0, data.index(b"\x00")) + 1,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return error(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "re-save it with UTF-8 encoding",
            line=data.count(b"\n", 0, exc.start) + 1,
        )
    text = text.replace("\r\n", "\n")

    parsed = _split_frontmatter(text, error)
    if isinstance(parsed, PrdError):
        return parsed
    meta, body, frontmatter = parsed
    if not body.strip():
        return error("the body is empty", "write the task for the agent below the frontmatter")

    fields = _read_fields(slug, name, meta, defaults.cwd, defaults.model, defaults.is_dir)
    if not isinstance(fields, tuple):
        workspace = _read_workspace(meta, fields["cwd"], defaults)
        fields = workspace if isinstance(workspace, tuple) else {**fields, **workspace}
    if isinstance(fields, tuple):
        key, problem, fix = fields
        return error(problem, fix, line=_key_line(frontmatter, key))
    extra = {key: _json_safe(value) for key, value in meta.items() if key not in KNOWN_KEYS}
    for key, value in extra.items():
        size = len(json.dumps(value, ensure_ascii=False))
        if size > MAX_EXTRA_BYTES:
            return error(
                f"the value of {key} is {size // 1024} KB, more than the {MAX_EXTRA_BYTES // 1024} KB "
                "an extra key may hold",
                "put long material in the body below the frontmatter, or in a file of the project",
                line=_key_line(frontmatter, key),
            )
    return Prd(slug=slug, body=body, extra=extra, content_hash=content_hash(data), **fields)


def suggest_name(name: str) -> str:
    stem = slug_of(name)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "prd"
    return f"{stem[:128]}.md"


def _split_frontmatter(text: str, error: Callable[..., PrdError]) -> tuple[dict[str, Any], str, str] | PrdError:
    if not _YAML.detect(text):
        return {}, text, ""
    try:
        fm, body = _YAML.split(text)
    except ValueError:
        return error(
            "the frontmatter starts with '---' on line 1 but never ends",
            "add a line with just '---' after the last frontmatter key",
            line=1,
        )
    try:
        document = read_yaml(fm)
    except YamlProblem as exc:
        return _yaml_error(exc, fm, error)
    duplicate = _duplicate_key(document.node)
    if duplicate is not None:
        key, first, second = duplicate
        return error(f"{key} is set twice, on lines {first} and {second}",
                     f"keep one of the two {key} lines and delete the other", line=second)
    meta = document.data
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return error(
            f"the frontmatter is a {type(meta).__name__}, not a set of 'key: value' lines",
            "write the frontmatter as lines like 'title: Add login'",
            line=2,
        )
    return {str(k): v for k, v in meta.items()}, body, fm


def _key_line(frontmatter: str, key: str) -> int | None:
    """The file line of a top-level key; the frontmatter text begins with the rest of line 1."""
    for index, line in enumerate(frontmatter.split("\n")):
        if line.split(":", 1)[0].strip() == key and ":" in line and not line[:1].isspace():
            return index + 1
    return None


def _yaml_error(exc: YamlProblem, frontmatter: str, error: Callable[..., PrdError]) -> PrdError:
    """The frontmatter's text starts with the rest of line 1, so a line of it is the file's line."""
    lines = frontmatter.split("\n")
    line = exc.line
    text = lines[line - 1] if line is not None and 0 < line <= len(lines) else ""
    fix = _yaml_fix(exc.problem, text, (exc.column or 1) - 1)
    if "mapping values are not allowed" in exc.problem and line is not None and not text[:1].isspace():
        before = lines[line - 2] if line >= 2 else ""
        if ":" in before and ": " not in before and not before.rstrip().endswith(":"):
            # "title:x" above: without a space after its ':' that line is no key, and this one continues it.
            line, fix = line - 1, "put a space after the ':' on this line, e.g. title: Add login"
    return error(f"the frontmatter is not valid YAML ({exc.problem})", fix, line=line)


def _yaml_fix(problem: str, text: str, column: int) -> str:
    """What to do about one YAML mistake, told from the parser's words and the line it points at."""
    if "\t" in text[: column + 1] or "tab character" in problem:
        return "replace the tab at the start of this line with spaces (none before a top-level key): YAML refuses tabs"
    if "scanning a quoted scalar" in problem or "end of stream" in problem:
        return "the quote opened on this line is never closed: add the closing quote at the end of the value"
    if "expected ',' or ']'" in problem:
        return "the list opened with '[' on this line is never closed: add ']' after its last item"
    if "expected ',' or '}'" in problem:
        return "the '{' on this line is never closed: add '}' after its last entry"
    if "expected ':'" in problem:
        return "write this line as 'key: value', or move the text below the closing '---'"
    if "mapping values are not allowed" in problem:
        if text[:1].isspace():
            return "remove the spaces at the start of this line: top-level keys start at the left edge"
        return 'put quotes around a value that contains ": ", e.g. title: "Fix: login"'
    if "did not find expected key" in problem:
        if text[:column].count('"') % 2 or text[:column].count("'") % 2:
            return "a quote opened on a line above is closed on this one: close that value on its own line"
        if text[:column].strip() and not text[:column].strip().startswith("-"):
            return "put the whole value in quotes: text follows its closing quote"
        if text.strip().startswith("-"):
            return "indent the list items under their key alike, e.g. '  - 01-schema' below 'dependsOn:'"
        return "line this key up with the keys above it (top-level keys start at the left edge)"
    if "directive" in problem:
        return "a frontmatter line cannot start with '%': put that value in quotes"
    if "cannot start any token" in problem:
        return f"put the value in quotes: YAML does not allow a plain value to start with {text[column:column + 1]!r}"
    if "alias" in problem:
        return "write the values out instead of repeating them through aliases (*name)"
    if "digits" in problem:
        return "shorten the number, or put it in quotes to keep it as text"
    return "fix the YAML between the '---' lines"


def _duplicate_key(root: yaml.Node | None) -> tuple[str, int, int] | None:
    """A top-level key written twice (YAML would keep the last silently): (key, first line, second line)."""
    if not isinstance(root, yaml.MappingNode):
        return None
    seen: dict[str, int] = {}
    for key_node, _value in root.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in seen:
            return key, seen[key], line
        seen[key] = line
    return None


def _read_fields(
    slug: str,
    name: str,
    meta: dict[str, Any],
    default_cwd: str,
    default_model: str,
    is_dir: Callable[[str], bool],
) -> dict[str, Any] | tuple[str, str, str]:
    """The known keys, or (key, problem, fix) for the first bad one."""
    title = meta.get("title", slug)
    if isinstance(title, (int, float)) and not isinstance(title, bool):
        title = str(title)
    if not isinstance(title, str) or not title.strip():
        return "title", f"title is {_show(title)}", 'write a short text, e.g. title: "Add login"'

    group = meta.get("parallelGroup", group_from_name(name))
    if "parallelGroup" not in meta and group > MAX_GROUP:
        return (
            "parallelGroup",
            f"the group number in the file name is {_show(group)}",
            f"rename the file to start with a number from 0 to {MAX_GROUP}, e.g. 02-{without_group_prefix(name)}",
        )
    if not _is_int(group) or not 0 <= group <= MAX_GROUP:
        return (
            "parallelGroup",
            f"parallelGroup is {_show(group)}",
            f"use a whole number from 0 to {MAX_GROUP}, e.g. parallelGroup: 2",
        )

    estimate = meta.get("estimateMinutes")
    if estimate is not None and (not _is_number(estimate) or not math.isfinite(estimate) or estimate < 0):
        return (
            "estimateMinutes",
            f"estimateMinutes is {_show(estimate)}",
            "use a number of minutes, e.g. estimateMinutes: 30",
        )

    model = meta.get("model", default_model)
    if not isinstance(model, str) or not model.strip():
        return "model", f"model is {_show(model)}", "use a model name, e.g. model: sonnet"

    depends_on = meta.get("dependsOn", ())
    if isinstance(depends_on, str):
        depends_on = [depends_on]
    if not isinstance(depends_on, (list, tuple)) or not all(isinstance(d, str) and d for d in depends_on):
        return (
            "dependsOn",
            f"dependsOn is {_show(depends_on)}",
            "use a list of PRD slugs, e.g. dependsOn: [01-schema, 02-api]",
        )
    depends_on = tuple(dict.fromkeys(slug_of(d.strip()) for d in depends_on))
    if slug in depends_on:
        return "dependsOn", f"{slug} depends on itself", f"remove {slug} from dependsOn"

    verify = meta.get("verify")
    if isinstance(verify, str):
        verify = [verify]
    if verify is not None and (
        not isinstance(verify, list) or not all(isinstance(cmd, str) and cmd.strip() for cmd in verify)
    ):
        return (
            "verify",
            f"verify is {_show(verify)}",
            'use a shell command or a list of them, e.g. verify: ["make test", "make lint"]',
        )

    raw_cwd = meta.get("cwd", default_cwd)
    if not isinstance(raw_cwd, str) or not raw_cwd.strip():
        return "cwd", f"cwd is {_show(raw_cwd)}", "use a folder path, e.g. cwd: ~/code/app"
    cwd = raw_cwd if raw_cwd is default_cwd else os.path.abspath(os.path.expanduser(raw_cwd.strip()))
    if not is_dir(cwd):
        return (
            "cwd",
            f"cwd {cwd} does not exist or is not a folder",
            "create the folder or point cwd at an existing project folder",
        )

    return {
        "title": title.strip(),
        "cwd": cwd,
        "group": group,
        "estimate_minutes": float(estimate) if estimate is not None else None,
        "model": model.strip(),
        "depends_on": depends_on,
        "verify": tuple(cmd.strip() for cmd in verify) if verify is not None else None,
    }


def _read_workspace(meta: dict[str, Any], cwd: str, defaults: _Defaults) -> dict[str, Any] | tuple[str, str, str]:
    """`workspace`, `base` and `expectChanges`, and for a worktree what git says of the cwd and base."""
    workspace = meta.get("workspace", defaults.workspace)
    if workspace not in MODES:
        return "workspace", f"workspace is {_show(workspace)}", "use workspace: shared or workspace: worktree"
    base = meta.get("base")
    if base is not None and (not isinstance(base, (str, int)) or isinstance(base, bool) or not str(base).strip()):
        return "base", f"base is {_show(base)}", "use a branch, tag or commit, e.g. base: main"
    base = str(base).strip() if base is not None else None
    expect = meta.get("expectChanges", True)
    if not isinstance(expect, bool):
        return "expectChanges", f"expectChanges is {_show(expect)}", "use expectChanges: true or expectChanges: false"
    if workspace == WORKTREE:
        problem = defaults.check_workspace(cwd, base)
        if problem is not None:
            return problem.key, problem.problem, problem.fix
    return {"workspace": workspace, "base": base, "expect_changes": expect}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: object) -> str:
    return shorten(repr(value), 60, "...")


def _json_safe(value: Any) -> Any:
    """Unknown frontmatter keys are kept in queue.json, so YAML dates and the like become text,
    and so do .nan and .inf (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    return str(value)


def prd_text(data: bytes) -> str:
    """The file as text, its lines numbered as in error messages; bytes that are no longer valid
    UTF-8 are replaced rather than refused."""
    return data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")


def body_of(data: bytes) -> str:
    """The agent's prompt: the PRD without its frontmatter. Used on files already validated."""
    return body_of_text(prd_text(data))


def body_of_text(text: str) -> str:
    """`prd_text` without its frontmatter."""
    if not _YAML.detect(text):
        return text
    try:
        return _YAML.split(text)[1]
    except ValueError:
        return text
