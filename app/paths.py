"""The home folder (docs/BEHAVIOUR.md section 2): where it is, what it holds, and private files inside it."""

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import platformdirs

from app.core.prd import Unreadable

HOME_ENV = "OVERNIGHT_HOME"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Home:
    """The folder holding all of Overnight's state for one queue."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def queue(self) -> Path:
        return self.root / "queue.json"

    @property
    def queue_backup(self) -> Path:
        return self.root / "queue.json.bak"

    @property
    def history(self) -> Path:
        return self.root / "history.jsonl"

    @property
    def prds(self) -> Path:
        return self.root / "prds"

    @property
    def archive(self) -> Path:
        return self.root / "prds-archive"

    @property
    def fix_plans(self) -> Path:
        """Fix plans held for the user's approval (`investigation.auto_run: false`)."""
        return self.root / "fix-plans"

    @property
    def reports(self) -> Path:
        """The reports written when the queue drains (docs/BEHAVIOUR.md section 14)."""
        return self.root / "reports"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "overnight.log"

    @property
    def heartbeat(self) -> Path:
        return self.logs / "heartbeat.jsonl"

    @property
    def socket(self) -> Path:
        return self.root / "engine.sock"

    @property
    def lock(self) -> Path:
        return self.root / "engine.lock"

    @property
    def folders(self) -> tuple[Path, ...]:
        return (self.prds, self.archive, self.fix_plans, self.runs, self.logs)

    def run_dir(self, run_id: str) -> Path:
        return self.runs / _single_name(run_id, "run id")

    def run_files(self, run_id: str, slug: str, investigation: bool = False) -> "RunFiles":
        """The files of a job's run, or of the investigation of that run's failure."""
        name = _single_name(slug, "slug") + (INVESTIGATION_SUFFIX if investigation else "")
        return RunFiles(self.run_dir(run_id), name)


INVESTIGATION_SUFFIX = ".investigation"


@dataclass(frozen=True, slots=True)
class RunFiles:
    """runs/<run-id>/<name>.jsonl (the agent's stdout), .stderr.log, .meta.json, .verify.log."""

    folder: Path
    name: str

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.jsonl"

    @property
    def stderr(self) -> Path:
        return self.folder / f"{self.name}.stderr.log"

    @property
    def meta(self) -> Path:
        return self.folder / f"{self.name}.meta.json"

    @property
    def verify_log(self) -> Path:
        """The verify commands' output after a completed run (docs/BEHAVIOUR.md section 13)."""
        return self.folder / f"{self.name}.verify.log"

    def create(self) -> None:
        """The folder (0700) and the empty log files (0600), before a run is recorded as begun."""
        self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(self.folder, FOLDER_MODE)
        for path in (self.log, self.stderr):
            os.close(private_opener(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC))


def _single_name(name: str, what: str) -> str:
    """A name from queue.json used in a path: one folder entry, never a way out of the home."""
    if name in ("", ".", "..") or Path(name).name != name:
        raise ValueError(f"{what} {name!r} is not a single folder name")
    return name


def resource(*parts: str) -> Path:
    """A file of resources/: the copy installed inside the package (a wheel maps resources/ to
    app/resources/), else the source checkout's, which an editable install uses."""
    installed = Path(__file__).resolve().parent / "resources"
    base = installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "resources"
    return base.joinpath(*parts)


def self_command() -> list[str]:
    """The command that starts this Overnight again: the built binary (docs/BEHAVIOUR.md section
    11), else this Python running the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app"]


def resolve_home(arg: str | None, environ: Mapping[str, str] = os.environ) -> Home:
    """`--home DIR` wins, then OVERNIGHT_HOME (ignored when empty), else the platform data dir."""
    if arg == "":
        raise ValueError("--home is empty; give a folder, e.g. --home ~/overnight")
    chosen = arg or environ.get(HOME_ENV) or platformdirs.user_data_dir("overnight", appauthor=False)
    return Home(Path(os.path.abspath(os.path.expanduser(chosen))))


def ensure_root(home: Home) -> None:
    """Make the home folder itself (0700); an existing one is left as it is."""
    home.root.parent.mkdir(parents=True, exist_ok=True)
    _make_private_folder(home.root, tighten_existing=False)


def ensure_home(home: Home) -> None:
    """Make the home and its folders 0700; tighten existing subfolders, not an existing root or a symlink's target."""
    ensure_root(home)
    for folder in home.folders:
        _make_private_folder(folder, tighten_existing=True)


def _make_private_folder(folder: Path, tighten_existing: bool) -> None:
    try:
        folder.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} exists and is not a folder") from None
        if tighten_existing and not folder.is_symlink():
            _remove_group_and_other_access(folder)
        return
    # mkdir's mode is filtered through the umask; set it exactly.
    os.chmod(folder, FOLDER_MODE)


def _remove_group_and_other_access(folder: Path) -> None:
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        os.chmod(folder, mode & 0o700)


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An `open(..., opener=)` that makes a file it creates or writes 0600, whatever the umask."""
    descriptor = os.open(path, flags, FILE_MODE)
    if flags & (os.O_WRONLY | os.O_RDWR):
        try:
            os.fchmod(descriptor, FILE_MODE)
        except OSError:
            os.close(descriptor)
            raise
    return descriptor


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """`open()` for files Overnight writes: PRDs, transcripts and logs can hold secrets (0600)."""
    return open(path, mode, opener=private_opener, **kwargs)


def write_private_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (0600): a reader, or a crash, sees the old file or the new one."""
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


Signature = tuple[int, int]  # size and mtime_ns: whether a file moved since it was read


@dataclass(frozen=True, slots=True)
class FileRead:
    """A file's bytes (cut after `limit` + 1), or why there are none; None and None: it is gone."""

    data: bytes | None
    unreadable: Unreadable | None = None
    signature: Signature | None = None


_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}
_NOT_A_FILE_FIX = "replace it with a plain text file, or move it out of the folder"


def read_regular_file(path: Path, limit: int) -> FileRead:
    """Blocking, but never for long: only a regular file (or a link to one) is opened, with
    O_NONBLOCK, so a FIFO or a device named like a PRD cannot stall the reader."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            return _unreadable(path, "is a broken link: what it points to does not exist",
                               "point the link at an existing file, or remove it")
        return FileRead(None)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _unreadable(path, "is a symlink loop", "point the link at an existing file, or remove it")
        return _unreadable(path, f"cannot be read ({exc.strerror or exc})", "make it a file your user can read")
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
        return _unreadable(path, f"is {kind}, not a regular file", _NOT_A_FILE_FIX)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return FileRead(None)
    except OSError as exc:
        return _unreadable(path, f"cannot be read ({exc.strerror or exc})", "make it a file your user can read")
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):  # swapped for something else since the stat
            return _unreadable(path, "is not a regular file", _NOT_A_FILE_FIX)
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(descriptor, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return _unreadable(path, f"cannot be read ({exc.strerror or exc})", "make it a file your user can read")
    finally:
        os.close(descriptor)
    return FileRead(b"".join(chunks), None, (info.st_size, info.st_mtime_ns))


def _unreadable(path: Path, problem: str, fix: str) -> FileRead:
    return FileRead(None, Unreadable(problem, fix), signature(path))


def signature(path: Path | os.DirEntry[str]) -> Signature | None:
    """Size and mtime of what `path` points to, else of the link itself (broken, or a loop)."""
    for follow in (True, False):
        try:
            info = path.stat(follow_symlinks=follow)
        except OSError:
            continue
        return info.st_size, info.st_mtime_ns
    return None
