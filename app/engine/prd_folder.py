"""The PRD folder → the queue: watch it, read what changed (off the loop), reconcile it in
slices, and carry out what reconcile's effects ask for (docs/BEHAVIOUR.md sections 3 and 4)."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.event_names import EventName
from app.core.prd import is_ignored, slug_of
from app.core.queue import QueueState
from app.core.reconcile import (
    Effect,
    FileChange,
    JobRequeued,
    PrdDefaults,
    PrdRemoved,
    Touched,
    apply_changes,
    check_dependencies,
    needs_parse,
    parse_change,
)
from app.engine import folder
from app.engine.threads import in_daemon_thread
from app.engine.watcher import FolderWatcher
from app.engine.worktrees import workspace_problem
from app.paths import Signature

if TYPE_CHECKING:
    from app.engine.engine import Engine

RESCAN_INTERVAL = 30.0
FALLBACK_RESCAN_INTERVAL = 2.0  # when the folder cannot be watched
RECONCILE_SLICE = 200  # file changes applied between two turns of the event loop


class PrdFolder:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._watcher: FolderWatcher | None = None
        self._pending_names: set[str] = set()
        self._reading = False
        self._seen: dict[str, Signature] = {}  # size and mtime of each PRD when last read
        self.rescan_interval = RESCAN_INTERVAL

    def watch(self) -> None:
        engine = self._engine
        watcher = FolderWatcher(engine.home.prds, self._file_ready)
        try:
            watcher.start()
        except OSError as exc:  # e.g. the system's inotify limit
            engine.notice("watcher", f"{engine.home.prds} cannot be watched ({exc.strerror or exc}); new PRDs are "
                                     f"picked up every {FALLBACK_RESCAN_INTERVAL:g} s instead of at once")
            self.rescan_interval = FALLBACK_RESCAN_INTERVAL
            return
        self._watcher = watcher

    def unwatch(self) -> None:
        if self._watcher:
            self._watcher.stop()

    def forget(self, slug: str) -> None:
        """The row left the queue: its file, if it comes back, is read as new."""
        self._seen.pop(f"{slug}.md", None)

    def defaults(self) -> PrdDefaults:
        config = self._engine.config
        return PrdDefaults(
            prds_dir=str(self._engine.home.prds),
            default_cwd=config.resolved_default_cwd(),
            default_model=config.agent.model,
            default_workspace=config.workspace.mode,
            check_workspace=workspace_problem,
        )

    async def read_prd(self, slug: str) -> FileChange:
        """The PRD as it is now (a run's prompt is its body), read like every PRD: never stuck."""
        return (await folder.read_prds(self._engine.home.prds, [f"{slug}.md"]))[0].change

    def read_now(self, name: str) -> None:
        """One file read and reconciled at once (a fix plan just written), not when the watcher
        gets to it."""
        self.reconcile_now([folder.read_one(self._engine.home.prds, name).change])

    # ------------------------------------------------------------ reading

    def _file_ready(self, name: str) -> None:
        if is_ignored(name):
            return
        self._pending_names.add(name)
        if not self._reading:
            self._reading = True
            self._engine.background(self._read_pending(), self._engine.chores)

    async def _read_pending(self) -> None:
        try:
            while self._pending_names:
                names, self._pending_names = self._pending_names, set()
                await self._reconcile(await self._read(sorted(names)))
        finally:
            self._reading = False

    async def _read(
        self, names: Iterable[str], reparse: bool = False, listing: Mapping[str, Signature | None] | None = None
    ) -> list[FileChange]:
        """The files read and, where reconcile will need it, parsed: both off the loop."""
        jobs, defaults = self._engine.state.jobs, self.defaults()

        def prepare(change: FileChange) -> FileChange:
            if needs_parse(jobs.get(slug_of(change.name)), change.content_hash, reparse):
                return replace(change, parsed=parse_change(change, defaults))
            return change

        reads = await folder.read_prds(self._engine.home.prds, list(names), prepare)
        for read in reads:
            name = read.change.name
            seen = read.signature or (listing or {}).get(name)
            if seen is None:
                self._seen.pop(name, None)
            else:
                self._seen[name] = seen
        return [read.change for read in reads]

    async def rescan(self, everything: bool = False, reparse: bool = False) -> None:
        """The whole folder against the queue: at start (every file is read: its content, not its
        mtime, says whether it changed), every `rescan_interval` as a safety net for missed folder
        events (files whose size or mtime moved), and after a change of the defaults."""
        engine = self._engine
        prds = engine.home.prds
        try:
            listing = await in_daemon_thread(lambda: folder.list_prds(prds), folder.READ_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            # Nothing may be taken as gone from a folder that cannot be listed.
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it does not answer"
            engine.notice("prds", f"{prds} cannot be listed ({why}); the queue keeps what it knew")
            return
        engine.notice("prds", None)
        known = {f"{slug}.md" for slug in engine.state.jobs}
        if everything or reparse:
            names = list(listing)
        else:
            names = [name for name, signature in listing.items() if self._seen.get(name) != signature]
        changes = await self._read(names, reparse, listing)
        gone = (known | set(self._seen)) - set(listing)
        for name in gone:
            self._seen.pop(name, None)
        changes += [FileChange(name, None) for name in sorted(gone & known)]
        await self._reconcile(changes, reparse=reparse)

    # ------------------------------------------------------------ reconciling

    async def _reconcile(self, changes: list[FileChange], reparse: bool = False) -> None:
        """A batch of file changes, a slice at a time so the loop never stalls on a large
        folder; the dependency check closes the batch."""
        touched = Touched()
        for index in range(0, len(changes), RECONCILE_SLICE):
            self._apply_slice(changes[index : index + RECONCILE_SLICE], touched, reparse)
            await asyncio.sleep(0)
        self._close_batch(touched)

    def reconcile_now(self, changes: list[FileChange]) -> None:
        """A few file changes, at once."""
        touched = Touched()
        self._apply_slice(changes, touched, reparse=False)
        self._close_batch(touched)

    def _apply_slice(self, changes: list[FileChange], touched: Touched, reparse: bool) -> None:
        try:
            self._apply_changes(changes, touched, reparse)
        except Exception:  # a bug met by one file must not lose its neighbours
            for change in changes:
                try:
                    self._apply_changes([change], touched, reparse)
                except Exception as exc:
                    self._seen.pop(change.name, None)  # read again at the next rescan
                    self._engine.emit(EventName.ENGINE_ERROR, "error", where="reconcile", file=change.name,
                                      error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=8))

    def _apply_changes(self, changes: list[FileChange], touched: Touched, reparse: bool) -> None:
        engine = self._engine
        self._take(*apply_changes(engine.state, changes, self.defaults(), engine.clock.now(), touched,
                                  reparse=reparse))

    def _close_batch(self, touched: Touched) -> None:
        self._take(*check_dependencies(self._engine.state, touched, self._engine.clock.now()))
        self._engine.request_tick()

    def _take(self, new_state: QueueState, effects: list[Effect]) -> None:
        engine = self._engine
        if new_state is not engine.state:
            engine.commit(new_state)
        for effect in effects:
            engine.emit(effect.event, effect.level, **effect.fields)
            match effect:
                case JobRequeued(slug=slug):
                    # The user changed a failed PRD: their fix replaces the investigation's.
                    engine.runs.stop_investigation(slug)
                case PrdRemoved():
                    engine.history({"event": "removed", **effect.fields})
