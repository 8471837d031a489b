"""How late the event loop wakes up: a stall the user could notice is reported with its length."""

import asyncio
import time

from app.engine.lag import LAG_INTERVAL, LAG_WARNING, LagMonitor

from .harness import run, until


async def stalled(monitor: LagMonitor, seconds: float) -> None:
    """Blocks the loop for `seconds` while the monitor sleeps, as a slow callback would."""
    watching = asyncio.create_task(monitor.run())
    await asyncio.sleep(0)  # the monitor is asleep now
    time.sleep(seconds)
    try:
        await until(lambda: monitor.worst >= seconds - LAG_INTERVAL, timeout=5)
    finally:
        watching.cancel()


@run
async def test_a_stall_is_reported_with_how_long_the_loop_was_late():
    reports: list[float] = []
    monitor = LagMonitor(reports.append)
    await stalled(monitor, 0.5)
    assert reports and reports[0] >= 0.4 > LAG_WARNING
    assert monitor.worst >= reports[0]


@run
async def test_a_delay_under_the_threshold_is_kept_as_the_worst_but_not_reported():
    reports: list[float] = []
    monitor = LagMonitor(reports.append, threshold=10)
    await stalled(monitor, 0.3)
    assert reports == []
    assert monitor.worst >= 0.2
