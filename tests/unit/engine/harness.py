"""A real engine on a temp home, driven from a test's own event loop."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.core.queue import InvestigationStatus, Job, Status
from app.engine.engine import Engine
from app.engine.events import EngineEvent
from tests.support import make_home, write_prd


class Running:
    def __init__(self, tmp_path: Path, config: Mapping[str, Any] | None = None, **engine_args: Any) -> None:
        self.home, self.environ, self.project = make_home(tmp_path, config)
        self.events: list[EngineEvent] = []
        self.engine_args = engine_args
        self.engine: Engine | None = None

    async def __aenter__(self) -> Running:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.engine is not None:
            await self.engine.stop(stop_jobs=True)

    async def start(self) -> Engine:
        self.engine = Engine(self.home, environ=self.environ, **self.engine_args)
        self.engine.subscribe(self.events.append)
        await self.engine.start()
        return self.engine

    async def stop(self, stop_jobs: bool) -> None:
        assert self.engine is not None
        await self.engine.stop(stop_jobs=stop_jobs)
        self.engine = None

    def prd(self, name: str, body: str, **frontmatter: Any) -> Path:
        return write_prd(self.home, name, body, **frontmatter)

    def job(self, slug: str) -> Job:
        assert self.engine is not None
        return self.engine.state.jobs[slug]

    def status(self, slug: str) -> Status | None:
        assert self.engine is not None
        job = self.engine.state.jobs.get(slug)
        return job.status if job else None

    def investigation(self, slug: str) -> InvestigationStatus | None:
        assert self.engine is not None
        job = self.engine.state.jobs.get(slug)
        return job.investigation.status if job and job.investigation else None

    def named(self, event: str) -> list[dict[str, Any]]:
        return [dict(e.fields) for e in self.events if e.event == event]

    async def history(self) -> list[dict[str, Any]]:
        """history.jsonl as written so far (the engine's writer thread flushed first)."""
        if self.engine is not None:
            await self.engine.flush()
        if not self.home.history.exists():
            return []
        return [json.loads(line) for line in self.home.history.read_text().splitlines()]

    def saved(self) -> dict[str, Any]:
        return json.loads(self.home.queue.read_text())


async def until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def run(coro_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Runs an async test body on a fresh loop (no pytest-asyncio needed)."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(coro_fn(*args, **kwargs))

    return wrapper
