"""The engine as the desktop app may use it: the only engine module app/gui imports (an
import-linter contract holds it). Everything else in app/engine is the engine's own business."""

from app.engine.control import EngineNotRunning, request_sync
from app.engine.engine import Engine
from app.engine.events import EngineEvent
from app.engine.intake import Added, Refused, add_prds, expand
from app.engine.lock import EngineLock, EngineLocked
from app.engine.notify import send_trial
from app.engine.snapshot import Snapshot
from app.engine.worktrees import GitError, git

__all__ = [
    "Added",
    "Engine",
    "EngineEvent",
    "EngineLock",
    "EngineLocked",
    "EngineNotRunning",
    "GitError",
    "Refused",
    "Snapshot",
    "add_prds",
    "expand",
    "git",
    "request_sync",
    "send_trial",
]
