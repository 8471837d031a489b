"""What users ask of the engine — through the control socket, the CLI or the GUI — and the
status it answers with (docs/BEHAVIOUR.md sections 9 and 11)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.core import gate as gates
from app.core import queue as q
from app.core import queue_json
from app.core.batching import waiting_reasons
from app.core.event_names import EventName
from app.core.investigation import approved, discarded, held_plans, holds_plan
from app.core.queue import Job, Status
from app.core.times import iso_ms
from app.core.usage import Usage
from app.core.workspace import NOTHING_CHANGED, missing_reason
from app.engine import folder

if TYPE_CHECKING:
    from app.engine.engine import Engine

JOB_COMMANDS = ("cancel", "skip", "reset", "rerun", "run")
REVIEW_COMMANDS = ("accept", "merge")  # a needs_review job's ways out (and `discard`)
DONE = {  # what each job command that is carried out at once tells the world
    "cancel": EventName.JOB_CANCEL,
    "skip": EventName.JOB_SKIP,
    "reset": EventName.JOB_RESET,
    "rerun": EventName.JOB_RERUN,
}


class CommandError(Exception):
    """A command the engine refuses, with the reason shown to the user."""


class Commands:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        engine = self._engine
        cmd = request.get("cmd")
        slug = request.get("slug")
        try:
            if cmd == "status":
                return {"ok": True, **self.status()}
            if cmd == "pause":
                reason = request.get("reason")
                if reason is not None and not isinstance(reason, str):
                    raise CommandError("reason must be text")
                engine.set_pause(gates.manual_pause(reason, engine.clock.now()))
            elif cmd == "resume":
                if engine.state.paused is None:
                    raise CommandError("the queue is not paused")
                engine.clear_pause("resumed by the user")
            elif cmd == "tick":
                engine.request_tick(force=True)
            elif cmd in JOB_COMMANDS:
                job = self._job(slug)
                if cmd == "rerun":
                    await self._drop_worktree(job)
                self._job_command(cmd, job)
            elif cmd in REVIEW_COMMANDS:
                await self._review(cmd, self._reviewed(slug, cmd))
            elif cmd == "archive":
                job = self._job(slug)
                if not job.is_busy and job.status is not Status.RUNNING:
                    await self._drop_worktree(job)
                await self._archive(job)
            elif cmd == "approve":
                await self._approve(self._held(slug, cmd))
            elif cmd == "discard":
                await self._discard(slug)
            elif cmd == "show":
                if engine.on_show is None:
                    raise CommandError("this engine has no window (it was started with `overnight run`)")
                engine.on_show()
            else:
                raise CommandError(f"unknown command {cmd!r}")
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    def _job(self, slug: Any) -> Job:
        if not isinstance(slug, str) or not slug:
            raise CommandError("this command needs a slug")
        job = self._engine.state.jobs.get(slug.removesuffix(".md"))
        if job is None:
            shown = slug if len(slug) <= 140 else slug[:139] + "…"
            raise CommandError(f"no job {shown!r} in the queue")
        return job

    def _job_command(self, cmd: str, job: Job) -> None:
        engine = self._engine
        now = engine.clock.now()
        try:
            if cmd == "cancel":
                if job.status is Status.RUNNING:
                    engine.runs.stop_run(job)
                    engine.emit(EventName.JOB_CANCELLING, slug=job.slug)
                    return
                engine.put(q.cancel_pending(job, now))
            elif cmd == "skip":
                engine.put(q.skip(job, now))
            elif cmd == "reset":
                if job.is_busy or job.status in (Status.RUNNING, Status.INVALID):
                    # A reset under a live run would let the job start again beside it.
                    what = "running" if job.is_busy else job.status.value
                    raise CommandError(f"{job.slug} is {what}; only a waiting or finished job can be reset")
                held = job.investigation if holds_plan(job) else None  # a plan awaiting approval stays shown
                fresh = replace(job, runs=0, last=None, earlier_runs=(), investigation=held, fix_plan_slug=None,
                                interrupted_retries=0)
                engine.put(q.make_pending(fresh, "reset by the user", now))
            elif cmd == "rerun":
                if job.status not in q.RERUNNABLE:
                    raise CommandError(f"{job.slug} is {job.status.value}; only a finished job, or one that needs "
                                       "review, can be re-run")
                engine.put(q.make_pending(job, "re-run requested", now))
            elif cmd == "run":
                if job.status is not Status.PENDING or job.is_busy:
                    raise CommandError(f"{job.slug} is {job.status.value}; only a pending job can run now")
                engine.runs.run_now(job.slug)
                return
        except q.IllegalTransition as exc:
            raise CommandError(f"{job.slug} is {job.status.value}: {cmd} does not apply") from exc
        engine.emit(DONE[cmd], slug=job.slug)
        engine.request_tick()

    async def _archive(self, job: Job) -> None:
        """Moves the PRD into prds-archive/ (never deletes it); the row leaves the queue."""
        engine = self._engine
        if job.status is Status.RUNNING or job.is_busy:
            raise CommandError(f"{job.slug} is running; cancel it before archiving it")
        moved = await asyncio.to_thread(folder.archive_prd, engine.home, job.slug)
        engine.drop(job.slug, "archived by the user")
        engine.history({"event": "archived", "slug": job.slug, "to": str(moved) if moved else None})
        engine.emit(EventName.PRD_ARCHIVED, slug=job.slug, to=str(moved) if moved else None)

    def _held(self, slug: Any, cmd: str) -> Job:
        """The failed job whose investigation holds the fix plan `slug`."""
        if not isinstance(slug, str) or not slug:
            raise CommandError(f"{cmd} needs the slug of a fix plan awaiting approval")
        held = held_plans(self._engine.state.jobs)
        job = held.get(slug.removesuffix(".md"))
        if job is None:
            shown = slug if len(slug) <= 140 else slug[:139] + "…"
            waiting = ", ".join(sorted(held)) or "none"
            raise CommandError(f"no fix plan {shown!r} awaits approval (awaiting approval: {waiting})")
        return job

    async def _approve(self, job: Job) -> None:
        """Moves the held fix plan into prds/, where it is read and runs like any PRD."""
        engine = self._engine
        assert job.investigation is not None
        plan = job.investigation.fix_plan_slug
        try:
            moved = await asyncio.to_thread(folder.approve_plan, engine.home, plan)
        except FileExistsError as exc:
            raise CommandError(f"prds/{plan}.md exists already and is never overwritten; archive or rename "
                               f"it, then approve {plan} again") from exc
        except FileNotFoundError as exc:
            raise CommandError(f"fix-plans/{plan}.md is gone; discard {plan} to clear it") from exc
        except OSError as exc:
            raise CommandError(f"{plan} could not be moved into prds/ ({exc.strerror or exc}); check the "
                               f"permissions of {engine.home.prds}") from exc
        self._settle_held(job.slug, lambda held: approved(held, engine.clock.now()))
        engine.folder.read_now(moved.name)  # so it is linked and queued at once
        engine.history({"event": "fixplan.approved", "slug": plan, "investigationOf": job.slug})
        engine.emit(EventName.FIXPLAN_APPROVED, slug=plan, investigationOf=job.slug, to=str(moved))

    async def _discard(self, slug: Any) -> None:
        """Discards what `slug` names: a fix plan awaiting approval is moved into
        fix-plans/discarded/ (never deleted) and the job it was written for says so; a job that
        needs review loses its worktree and branch and is cancelled."""
        named = self._engine.state.jobs.get(slug.removesuffix(".md")) if isinstance(slug, str) else None
        if named is not None and named.status is Status.NEEDS_REVIEW:
            await self._drop_worktree(named, branch=True)
            self._engine.put(q.discard_review(named, self._engine.clock.now()))
            self._engine.emit(EventName.JOB_CANCEL, slug=named.slug)
            return
        job = self._held(slug, "discard")
        engine = self._engine
        assert job.investigation is not None
        plan = job.investigation.fix_plan_slug
        kept = await asyncio.to_thread(folder.discard_plan, engine.home, plan)
        to = str(kept) if kept else None
        self._settle_held(job.slug, lambda held: discarded(held, to, engine.clock.now()))
        engine.history({"event": "fixplan.discarded", "slug": plan, "investigationOf": job.slug, "to": to})
        engine.emit(EventName.FIXPLAN_DISCARDED, slug=plan, investigationOf=job.slug, to=to)

    def _reviewed(self, slug: Any, cmd: str) -> Job:
        job = self._job(slug)
        if job.status is not Status.NEEDS_REVIEW:
            raise CommandError(f"{job.slug} is {job.status.value}; {cmd} applies to a job that needs review")
        return job

    async def _review(self, cmd: str, job: Job) -> None:
        """`accept`: the work counts as done (after a conflict, once the user merged the branch by
        hand); `merge`: the merge is tried again. Either refuses with what is still in the way."""
        engine = self._engine
        ws, integration = job.workspace, engine.config.workspace.branch
        worktrees = engine.runs.worktrees
        if cmd == "merge":
            if ws is None:
                raise CommandError(f"{job.slug} has no branch to merge")
            settled = await worktrees.settle(ws, title=job.title, slug=job.slug, completed=True,
                                             expect_changes=job.expect_changes, integration=integration)
            job = self._job(job.slug)
            engine.put(replace(job, workspace=settled.workspace, reason=settled.review or job.reason))
            if settled.review is not None:
                raise CommandError(f"{job.slug} {settled.review}")
            merged = settled.workspace
            engine.put(q.accept(self._job(job.slug), f"merged into {integration}", engine.clock.now()))
            engine.emit(EventName.JOB_MERGED, slug=job.slug, branch=merged.branch, commit=merged.merge_commit)
        else:
            if ws is not None and not ws.merged and job.reason != NOTHING_CHANGED:
                inside = await worktrees.contained(ws, integration)
                if inside is None:
                    raise CommandError(missing_reason("branch", ws.branch))
                if not inside:
                    raise CommandError(f"{ws.branch} is not in {integration} yet: merge it there by hand, or "
                                       f"run `overnight merge {job.slug}`; then accept {job.slug}")
                await worktrees.remove(ws)
                job = replace(self._job(job.slug), workspace=replace(ws, merged=True))
            engine.put(q.accept(job, "accepted by the user", engine.clock.now()))
        engine.request_tick()

    async def _drop_worktree(self, job: Job, branch: bool = False) -> None:
        """A kept worktree goes before a re-run, an archive or a discard (`branch`: its branch too)."""
        ws = job.workspace
        if ws is not None and not ws.merged and job.status is not Status.RUNNING:
            await self._engine.runs.worktrees.remove(ws, branch=branch)

    def _settle_held(self, slug: str, settle: Callable[[Job], Job]) -> None:
        """The job's record after its held plan was moved, unless it changed meanwhile (archived, say)."""
        job = self._engine.state.jobs.get(slug)
        if job is not None and holds_plan(job):
            self._engine.put(settle(job))

    def status(self) -> dict[str, Any]:
        engine = self._engine
        state = engine.state
        decision = gates.decide(engine.policy(), engine.usage, state.paused, state.on_reset, engine.clock.now())
        running = sum(1 for job in state.jobs.values() if job.status is Status.RUNNING)
        waiting = waiting_reasons(state.jobs, decision, engine.cap())
        return {
            "engine": {"pid": state.engine.pid, "startedAt": iso_ms(state.engine.started_at)} if state.engine else None,
            "paused": queue_json.pause_to_json(state.paused),
            "usage": status_usage(engine.usage),
            "gate": {"open": isinstance(decision, gates.Open),
                     "reason": None if isinstance(decision, gates.Open) else decision.reason},
            "firePolicy": engine.config.fire_policy,
            "running": running,
            "cap": engine.cap(),
            "problems": engine.problems(),
            "jobs": [
                {**queue_json.job_to_json(job), "waiting": waiting[job.slug].why if job.slug in waiting else None}
                for job in sorted(state.jobs.values(), key=lambda j: (j.group, j.slug))
            ],
        }


def status_usage(usage: Usage) -> dict[str, Any]:
    """The usage meter's reading as `status --json` shows it (queue.json keeps it in another shape)."""
    return {
        "fiveHour": usage.five_hour.utilization,
        "fiveHourResetsAt": _iso(usage.five_hour.resets_at),
        "sevenDay": usage.seven_day.utilization,
        "sevenDayResetsAt": _iso(usage.seven_day.resets_at),
        "stale": usage.stale,
        "polledAt": _iso(usage.polled_at),
    }


def _iso(moment: Any) -> str | None:
    return iso_ms(moment) if moment else None
