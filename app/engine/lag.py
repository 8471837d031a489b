"""How late the event loop wakes up: the measure of "the engine never freezes".

Everything the engine does runs on one loop; a callback that blocks it (a parse, a large
reconcile, a disk that does not answer) delays every run's watchdog and every command.
The monitor sleeps a short interval and measures how much later than asked it woke.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LAG_INTERVAL = 0.1
LAG_WARNING = 0.25  # seconds: a stall the user could notice (a command's answer, a drop)


class LagMonitor:
    def __init__(self, report: Callable[[float], None], threshold: float = LAG_WARNING) -> None:
        self._report = report
        self._threshold = threshold
        self.worst = 0.0  # seconds, since the engine started

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            lag = max(loop.time() - asked, 0.0)
            self.worst = max(self.worst, lag)
            if lag > self._threshold:
                self._report(lag)
