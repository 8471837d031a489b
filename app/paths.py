"""The home folder (SPEC section 2): where it is, what it holds, and private files inside it."""

import contextlib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import platformdirs

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
        return (self.prds, self.archive, self.runs, self.logs)

    def run_dir(self, run_id: str) -> Path:
        if run_id in ("", ".", "..") or Path(run_id).name != run_id:
            raise ValueError(f"run id {run_id!r} is not a single folder name")
        return self.runs / run_id


def resource(*parts: str) -> Path:
    """A file of resources/: the copy installed inside the package (a wheel maps resources/ to
    app/resources/), else the source checkout's, which an editable install uses."""
    installed = Path(__file__).resolve().parent / "resources"
    base = installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "resources"
    return base.joinpath(*parts)


def resolve_home(arg: str | None, environ: Mapping[str, str] = os.environ) -> Home:
    """`--home DIR` wins, then OVERNIGHT_HOME (ignored when empty), else the platform data dir."""
    if arg == "":
        raise ValueError("--home is empty; give a folder, e.g. --home ~/overnight")
    chosen = arg or environ.get(HOME_ENV) or platformdirs.user_data_dir("overnight", appauthor=False)
    return Home(Path(os.path.abspath(os.path.expanduser(chosen))))


def ensure_home(home: Home) -> None:
    """Make the home and its folders 0700; tighten existing subfolders, not an existing root or a symlink's target."""
    home.root.parent.mkdir(parents=True, exist_ok=True)
    _make_private_folder(home.root, tighten_existing=False)
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
