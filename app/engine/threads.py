"""Blocking work off the event loop, on threads that can never hold up the engine's exit.

asyncio's own executor joins its threads when the loop closes, so one read stuck in the
kernel (a dead network mount) would keep `overnight run` from ending on SIGTERM. Work that
could block for good runs on a daemon thread instead, with a deadline.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(work: Callable[[], T], timeout: float, name: str = "overnight-work") -> T:
    """`work()` on a daemon thread; TimeoutError when it takes longer than `timeout` (the thread
    is then left to finish or stay stuck on its own)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:
            call_soon(loop, _set_exception, future, exc)
        else:
            call_soon(loop, resolve, future, value)

    threading.Thread(target=run, name=name, daemon=True).start()
    async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancel that races its end
        return await future


def call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object) -> None:
    """`loop.call_soon_threadsafe`, for a thread that may outlive the loop: then nobody waits."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed
        pass


def resolve(future: asyncio.Future[T], value: T) -> None:
    """The future's result, unless it has one already (a waiter may have given up)."""
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[T], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
