"""A failed job's investigation as a kind of run (run_kinds.py): it reads the failure and
writes a fix-plan PRD (docs/BEHAVIOUR.md section 8)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import replace
from typing import Any

from app.core.event_names import EventName
from app.core.finish import end_investigation, finish_investigation, waiting
from app.core.investigation import (
    TRANSCRIPT_TAIL_CHARS,
    VERIFY_TAIL_BYTES,
    RunTail,
    fix_plan_path,
    holds_plan,
    investigation_prompt,
    session_chain,
    tail_budgets,
    transcript_tail,
    verify_log_tail,
)
from app.core.outcome import classify
from app.core.prd import body_of
from app.core.queue import Investigation, InvestigationStatus, Job, LastRun
from app.core.verify import describe
from app.engine.run_kinds import RunKind
from app.engine.runner import Limits, RunEnd
from app.paths import RunFiles

TRANSCRIPT_TAIL_BYTES = 64 * 1024  # of the failed session's logs, for its investigation


class InvestigationRun(RunKind):
    """A failed job's investigation: an agent that reads the failure and writes a fix-plan PRD.
    It runs in the failed run's folder, and does not use the concurrency cap."""

    name = "investigation"
    started_event = EventName.INVESTIGATION_STARTED
    adopted_event = EventName.INVESTIGATION_ADOPTED

    @property
    def files(self) -> RunFiles:
        return self.engine.home.run_files(self.run_id, self.slug, investigation=True)

    def record(self) -> Investigation | None:
        job = self._job()
        return job.investigation if job is not None else None

    def begin(self, job: Job, now: dt.datetime) -> Job | None:
        inv = job.investigation
        if inv is None or job.last is None or inv.status is not InvestigationStatus.WAITING:
            return None  # changed since it was picked
        return replace(job, investigation=replace(inv, status=InvestigationStatus.RUNNING, run_id=self.run_id,
                                                  started_at=now, log_path=str(self.files.log)))

    async def prompt(self) -> bytes | None:
        engine = self.engine
        job, inv = self._job(), self.record()
        if job is None or inv is None or job.last is None:
            return None
        failed_log = engine.home.run_files(self.run_id, self.slug).log
        prd = await engine.folder.read_prd(self.slug)
        body = body_of(prd.data) if prd.data is not None else "(the PRD file cannot be read from prds/)"
        *earlier, tail = await self._session_tails(job, str(failed_log))
        verify, verify_log = job.verify, ""
        if verify is not None and not verify.ok:
            verify_log = verify_log_tail(await asyncio.to_thread(_last_bytes, verify.log_path, VERIFY_TAIL_BYTES + 1))
        fix_path = fix_plan_path(inv.fix_plan_slug, prds=engine.home.prds, fix_plans=engine.home.fix_plans,
                                 auto_run=engine.config.investigation.auto_run)
        reason = describe(verify) if verify is not None and not verify.ok else job.last.reason
        return investigation_prompt(job=job, reason=reason, body=body, transcript=tail.text, log_path=str(failed_log),
                                    fix_path=str(fix_path), where=self.workdir(), verify_log=verify_log,
                                    earlier=earlier).encode()

    async def _session_tails(self, job: Job, failed_log: str) -> list[RunTail]:
        """The end of each run of the failed run's session, oldest first, the failed run last; the
        runs it continued share part of the bytes and characters one run would get."""
        runs = session_chain(job)
        logs = [*map(self._log_of, runs[:-1]), failed_log]
        kept = [(run, log) for run, log in zip(runs, logs, strict=True) if log is not None]
        sizes = tail_budgets(len(kept), TRANSCRIPT_TAIL_BYTES)
        data = await asyncio.to_thread(_ends_of, [log for _, log in kept], sizes)
        limits = tail_budgets(len(kept), TRANSCRIPT_TAIL_CHARS)
        return [RunTail(run, log, transcript_tail(tail, limit))
                for (run, log), tail, limit in zip(kept, data, limits, strict=True)]

    def _log_of(self, run: LastRun) -> str | None:
        try:
            return str(self.engine.home.run_files(run.run_id, self.slug).log)
        except ValueError:  # a run id from a damaged queue.json
            return None

    def model(self) -> str:
        return self.engine.config.investigation.model

    def limits(self) -> Limits:
        return replace(super().limits(), max_duration=self.engine.config.investigation.max_duration)

    def not_started(self, why: str) -> None:
        if self.record() is not None:
            self.engine.commit(replace(self.engine.state, jobs=waiting(self.engine.state.jobs, self.slug, why)))

    def could_not_start(self, why: str) -> None:
        self._end(InvestigationStatus.NO_FIX_PLAN, f"could not start: {why}")

    def recorded(self, pid: int, create_time: float) -> None:
        job, inv = self._job(), self.record()
        if job is not None and inv is not None:
            self.engine.put(replace(job, investigation=replace(inv, pid=pid, pid_create_time=create_time)))

    def started_fields(self) -> dict[str, Any]:
        inv = self.record()
        return {"fixPlan": inv.fix_plan_slug if inv is not None else None}

    def finished(self, end: RunEnd) -> None:
        engine = self.engine
        inv = self.record()
        if inv is None:
            return
        now = engine.clock.now()
        outcome = classify(end.summary, end.exit, now, engine.local_tz)
        engine.runs.write_outcome(self, outcome, end, now)
        name = f"{inv.fix_plan_slug}.md"
        written = (engine.home.prds / name).exists()
        held = engine.home.fix_plans / name
        if written:
            engine.folder.read_now(name)  # so the link is made at once
        done = finish_investigation(engine.state.jobs, self.slug, outcome, end.stop_reason, written,
                                    engine.run_end_rules(), now, held_at=str(held) if held.exists() else None,
                                    summary=end.summary)
        engine.commit(replace(engine.state, jobs=done.jobs))
        if done.limit is not None:
            engine.runs.usage_limit_hit(done.limit)
        if not done.ended:
            return
        if holds_plan(done.jobs[self.slug]):
            engine.emit(EventName.FIXPLAN_HELD, slug=inv.fix_plan_slug, investigationOf=self.slug, path=str(held))
            self._announce_end(done.fix_plan, done.reason, done.leaves_queue, held=True)
        else:
            self._announce_end(done.fix_plan, done.reason, done.leaves_queue)
        if done.history is not None:
            engine.history(done.history)
            engine.housekeeping.spend.ran(done.history)

    def unusable(self, exc: Exception) -> None:
        self.not_started(f"its run record could not be used ({type(exc).__name__}: {exc})")
        self.engine.emit(EventName.RUN_QUARANTINED, "warning", slug=self.slug, investigation=True,
                         error=f"{type(exc).__name__}: {exc}")

    def _end(self, status: InvestigationStatus, reason: str) -> None:
        engine = self.engine
        if self.record() is None:
            return
        jobs = end_investigation(engine.state.jobs, self.slug, status, reason, engine.clock.now())
        engine.commit(replace(engine.state, jobs=jobs))
        self._announce_end(None, reason, jobs[self.slug].file_gone)

    def _announce_end(self, fix_plan: str | None, reason: str, leaves_queue: bool, held: bool = False) -> None:
        """`held`: the fix plan awaits the user's approval under fix-plans/ (the event says so)."""
        engine = self.engine
        engine.emit(EventName.INVESTIGATION_FINISHED, "info" if fix_plan else "warning", slug=self.slug,
                    fixPlan=fix_plan, reason=reason, **({"held": True} if held else {}))
        if leaves_queue:
            engine.drop(self.slug, "its PRD was removed during its investigation")
        engine.request_tick()


def _ends_of(logs: list[str], sizes: list[int]) -> list[bytes]:
    return [_last_bytes(log, size) for log, size in zip(logs, sizes, strict=True)]


def _last_bytes(path: str | os.PathLike[str], size: int) -> bytes:
    """The end of a log (nothing when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - size))
            return file.read()
    except OSError:
        return b""
