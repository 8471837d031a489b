"""The engine on its own thread, seen from Qt.

The engine's asyncio loop runs on a worker thread, so the GUI thread never waits on disk,
network or processes. Engine events and state changes cross over as Qt signals (queued to
the GUI thread); commands go the other way and answer through a callback on the GUI
thread. State changes are coalesced: at most one `stateChanged` per COALESCE seconds,
carrying the latest state and every slug that changed since the last one.

The GUI reads only what the engine publishes: the events, and the `Snapshot` (state,
settings, the gate's verdict, problems) made on the engine's loop at each change — never the
engine's own attributes across threads.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.config import Config
from app.core.queue import QueueState
from app.engine.api import Engine, Snapshot
from app.paths import Home

COALESCE = 0.05

Answer = Callable[[dict[str, Any]], None]


class EngineBridge(QObject):
    stateChanged = Signal(object, list)  # Snapshot, changed slugs; `snapshot` is already this one
    engineEvent = Signal(object)  # EngineEvent
    ready = Signal()
    failed = Signal(str)
    stopped = Signal()
    showRequested = Signal()
    _answered = Signal(object, object)  # callback, answer: delivered on the GUI thread
    _arrived = Signal(object, list)  # Snapshot, changed slugs: from the engine thread, published on the GUI thread

    def __init__(self, home: Home, environ: Mapping[str, str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.home = home
        self.snapshot = Snapshot()
        self.environ = dict(os.environ if environ is None else environ)  # the engine's, and its agents'
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_request: asyncio.Event | None = None
        self._stop_jobs = False
        self._thread: threading.Thread | None = None
        self._changed: set[str] = set()
        self._flush_scheduled = False
        self._answered.connect(self._deliver)
        self._arrived.connect(self._publish)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    def stop(self, stop_jobs: bool) -> None:
        """Ask the engine to stop; `stopped` is emitted when it has."""
        self._stop_jobs = stop_jobs
        if self._loop is None or self._stop_request is None:
            self.stopped.emit()
            return
        self._loop.call_soon_threadsafe(self._stop_request.set)

    def wait(self, timeout: float | None = None) -> bool:
        """Join the engine thread (only at exit, after `stopped`)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def state(self) -> QueueState:
        return self.snapshot.state

    @property
    def config(self) -> Config:
        return self.snapshot.config

    # ------------------------------------------------------------ commands

    def command(self, request: Mapping[str, Any], answer: Answer | None = None) -> None:
        """Run a control command on the engine's loop; `answer` is called on the GUI thread."""
        if self._loop is None or self._engine is None:
            if answer:
                answer({"ok": False, "error": "the engine is not running"})
            return
        future = asyncio.run_coroutine_threadsafe(self._engine.handle(dict(request)), self._loop)
        if answer is not None:
            future.add_done_callback(lambda done: self._answered.emit(answer, _result_of(done)))

    @Slot(object, object)
    def _deliver(self, answer: Answer, result: dict[str, Any]) -> None:
        answer(result)

    @Slot(object, list)
    def _publish(self, snapshot: Snapshot, changed: list) -> None:
        # One hop to the GUI thread, then a direct emit: a queued signal is posted to each
        # receiver separately, and a receiver could otherwise see `snapshot` ahead of its own slot.
        self.snapshot = snapshot
        self.stateChanged.emit(snapshot, changed)

    # ------------------------------------------------------------ the engine thread

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self._loop = None
            self.stopped.emit()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_request = asyncio.Event()
        engine = Engine(self.home, environ=self.environ)
        engine.subscribe(self.engineEvent.emit)
        engine.subscribe_state(self._state_changed)
        engine.on_show = self.showRequested.emit
        self._engine = engine
        try:
            await engine.start()
            await engine.serve_control()
            self._state_changed(engine.state, list(engine.state.jobs))
            self.ready.emit()
            await self._stop_request.wait()
        finally:
            await engine.stop(stop_jobs=self._stop_jobs)

    def _state_changed(self, _state: QueueState, changed: list[str]) -> None:
        self._changed.update(changed)
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_later(COALESCE, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        changed, self._changed = sorted(self._changed), set()
        if self._engine is not None:
            self._arrived.emit(self._engine.snapshot(), changed)


def _result_of(future: Any) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
