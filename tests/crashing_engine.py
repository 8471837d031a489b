"""`overnight ARGS…` that SIGKILLs itself right after its N-th durable step, in any of its
threads: an fsync (a file's data, or a folder's entries after a rename, made durable) or a
mkdir (a run's folder). The crash the OOM killer or a reboot makes, at an exact point, so a
test can try every point of a run.

    python tests/crashing_engine.py N ARGS…

With N = 0 it never crashes and, at a normal exit, prints `durable steps: <count>` on stderr.
"""

import atexit
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIMIT = int(sys.argv[1])
_count = 0
_lock = threading.Lock()


def _counted(step):
    def wrapper(*args, **kwargs):
        global _count
        result = step(*args, **kwargs)
        with _lock:
            _count += 1
            reached = _count == LIMIT
        if reached:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapper


for _name in ("fsync", "mkdir"):
    setattr(os, _name, _counted(getattr(os, _name)))

if LIMIT == 0:
    atexit.register(lambda: print(f"durable steps: {_count}", file=sys.stderr))

from app.cli import main  # noqa: E402 - after the patches, so every import sees them

sys.exit(main(sys.argv[2:]))
