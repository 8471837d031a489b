"""What the engine publishes after each change: one immutable value a view can read on any
thread, so it never reaches into the engine (docs/ARCHITECTURE.md, "The GUI")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.config import Config
from app.core.batching import Waiting, waiting_reasons
from app.core.gate import Decision, Open
from app.core.investigation import held_plan_row, held_plans
from app.core.queue import Job, QueueState, Status


@dataclass(frozen=True, slots=True)
class Snapshot:
    state: QueueState = field(default_factory=QueueState)
    config: Config = field(default_factory=Config)
    cap: int = 0
    gate: Decision = field(default_factory=Open)  # whether new runs may start, as the engine decided it
    problems: tuple[str, ...] = ()  # everything the user should know about: settings, queue file, home
    settings_problems: tuple[str, ...] = ()  # the part of `problems` config.yaml and the environment cause
    # Why pending jobs wait, worked out once on first use (the queue may hold thousands of jobs).
    _waiting: Mapping[str, Waiting] | None = field(default=None, compare=False, repr=False)

    @property
    def running(self) -> int:
        return sum(1 for job in self.state.jobs.values() if job.status is Status.RUNNING)

    def waiting(self) -> Mapping[str, Waiting]:
        """Every pending job that does not start yet, by slug: why (its dependencies, its
        investigation, its group, the gate, the cap) and when that is expected to change."""
        if self._waiting is None:
            object.__setattr__(self, "_waiting", waiting_reasons(self.state.jobs, self.gate, self.cap))
        assert self._waiting is not None
        return self._waiting

    def held_plans(self) -> dict[str, Job]:
        """Fix plans awaiting the user's approval, each as the row the queue shows for it."""
        return {slug: held_plan_row(job) for slug, job in held_plans(self.state.jobs).items()}

    def held_path(self, slug: str) -> str | None:
        """Where the held fix plan `slug` waits (under fix-plans/), or None if `slug` is not one."""
        job = held_plans(self.state.jobs).get(slug)
        return job.investigation.plan_path if job is not None and job.investigation is not None else None
