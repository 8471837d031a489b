"""The folder → the queue (docs/BEHAVIOUR.md section 4), one changed file at a time.

`reconcile` takes the files that changed (their bytes, or None when gone) and returns
the new state plus its effects. A changed file costs one parse; the whole queue is
only walked when a file appears or disappears, or a dependency problem may have been
solved, because only then can other rows' `dependsOn` change meaning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from app.core import queue as q
from app.core.event_names import EventName
from app.core.investigation import FIX_PLAN_PATTERN
from app.core.prd import (
    Prd,
    PrdError,
    PrdErrorKind,
    Unreadable,
    WorkspaceCheck,
    content_hash,
    is_ignored,
    no_workspace_check,
    parse_prd,
    slug_of,
)
from app.core.queue import InvestigationStatus, Job, QueueState, Status
from app.core.workspace import SHARED

CHANGED_DURING_RUN = "PRD changed during run"


@dataclass(frozen=True, slots=True)
class FileChange:
    name: str
    data: bytes | None  # None: the file is gone, or unreadable
    unreadable: Unreadable | None = None
    # Parsed already (off the engine's event loop), for the bytes in `data` and the defaults.
    parsed: Prd | PrdError | None = None
    content_hash: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.unreadable is not None:
            digest = "unreadable:" + content_hash(self.unreadable.problem.encode())
        else:
            digest = content_hash(self.data) if self.data is not None else ""
        object.__setattr__(self, "content_hash", digest)


@dataclass(frozen=True, slots=True)
class PrdDefaults:
    prds_dir: str
    default_cwd: str
    default_model: str
    is_dir: Callable[[str], bool] = os.path.isdir
    default_workspace: str = SHARED
    check_workspace: WorkspaceCheck = no_workspace_check


@dataclass(frozen=True, slots=True)
class Effect:
    """Something a file change did to the queue: announced as the event `event` with the
    effect's fields; the engine acts on some (`JobRequeued`, `PrdRemoved`)."""

    slug: str
    event: ClassVar[EventName]
    level: ClassVar[str] = "info"

    @property
    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class PrdAdded(Effect):
    """A new runnable row (or one whose dependsOn problem was solved)."""

    event = EventName.PRD_ADDED


@dataclass(frozen=True, slots=True)
class PrdInvalid(Effect):
    reason: str
    event = EventName.PRD_INVALID
    level = "warning"


@dataclass(frozen=True, slots=True)
class PrdChanged(Effect):
    status: str  # the row's status when its file changed
    event = EventName.PRD_CHANGED


@dataclass(frozen=True, slots=True)
class JobRequeued(Effect):
    """The user changed a failed PRD: it runs again, and their fix replaces the investigation's."""

    reason: str
    event = EventName.JOB_REQUEUED


@dataclass(frozen=True, slots=True)
class PrdRemovedDuringRun(Effect):
    """The file went while its run goes on: the row leaves when the run ends."""

    event = EventName.PRD_REMOVED_DURING_RUN


@dataclass(frozen=True, slots=True)
class PrdRemoved(Effect):
    """The row left the queue with its file (recorded in history.jsonl)."""

    status: str
    event = EventName.PRD_REMOVED


@dataclass(slots=True)
class Touched:
    """The rows a batch of file changes touched, for the dependency check that closes it."""

    slugs: set[str] = field(default_factory=set)
    graph_changed: bool = False  # a row came or went, or a dependsOn or a validity changed


def reconcile(
    state: QueueState,
    changes: Iterable[FileChange],
    defaults: PrdDefaults,
    now: dt.datetime,
    *,
    reparse: bool = False,
) -> tuple[QueueState, list[Effect]]:
    """`reparse` re-reads unchanged pending files too: the defaults they fall back on changed."""
    touched = Touched()
    state, effects = apply_changes(state, changes, defaults, now, touched, reparse=reparse)
    state, checked = check_dependencies(state, touched, now)
    return state, effects + checked


def apply_changes(
    state: QueueState,
    changes: Iterable[FileChange],
    defaults: PrdDefaults,
    now: dt.datetime,
    touched: Touched,
    *,
    reparse: bool = False,
) -> tuple[QueueState, list[Effect]]:
    """The files' own rows, without the dependency check (`check_dependencies` closes the batch).
    A large batch can be applied in slices: a row whose dependencies are not checked yet is
    still not runnable, since they are not completed."""
    jobs = dict(state.jobs)
    effects: list[Effect] = []
    changed = False
    for change in changes:
        if is_ignored(change.name):
            continue
        slug = slug_of(change.name)
        before = jobs.get(slug)
        _apply(jobs, change, defaults, now, effects, reparse)
        after = jobs.get(slug)
        if after is before:
            continue
        changed = True
        touched.slugs.add(slug)
        # Other rows' dependsOn only change meaning when a row comes or goes, or a
        # row's own dependsOn or validity changes.
        touched.graph_changed |= (
            before is None
            or after is None
            or before.depends_on != after.depends_on
            or (before.status is Status.INVALID) != (after.status is Status.INVALID)
        )
    return (replace(state, jobs=jobs) if changed else state), effects


def check_dependencies(state: QueueState, touched: Touched, now: dt.datetime) -> tuple[QueueState, list[Effect]]:
    """dependsOn problems (missing PRDs, cycles) of the touched rows and of the rows that depend
    on them, and the links of fix plans that arrived. Costs nothing when none of that applies."""
    effects: list[Effect] = []
    to_check = _to_check(state.jobs, touched)
    fix_plans = [slug for slug in touched.slugs if slug in state.jobs and FIX_PLAN_PATTERN.match(slug)]
    if not to_check and not fix_plans:
        return state, effects
    jobs = dict(state.jobs)
    changed = _check_dependencies(jobs, to_check, now, effects)
    for slug in fix_plans:
        changed |= link_fix_plan(jobs, slug)
    return (replace(state, jobs=jobs) if changed else state), effects


def _apply(
    jobs: dict[str, Job],
    change: FileChange,
    defaults: PrdDefaults,
    now: dt.datetime,
    effects: list[Effect],
    reparse: bool,
) -> None:
    slug = slug_of(change.name)
    job = jobs.get(slug)
    if change.data is None and change.unreadable is None:
        if job is not None:
            _file_gone(jobs, job, now, effects)
        return
    data_hash = change.content_hash
    if not needs_parse(job, data_hash, reparse):
        return
    parsed = change.parsed or parse_change(change, defaults)
    if job is None:
        job = q.new_job(parsed, change.name, now, data_hash)
        jobs[slug] = job
        if job.status is Status.INVALID:
            effects.append(PrdInvalid(slug, job.reason))
        else:
            effects.append(PrdAdded(slug))
        return
    if job.file_gone:
        job = replace(job, file_gone=False)
    jobs[slug] = _changed(job, parsed, data_hash, now, effects)


def needs_parse(job: Job | None, data_hash: str, reparse: bool = False) -> bool:
    """Whether a file read with `data_hash` must be parsed for `job` (its row, if any)."""
    if job is None or job.content_hash != data_hash or job.file_gone:
        return True
    # Unchanged. An invalid file is re-read anyway (its cwd may exist now), and a pending
    # one when the defaults changed.
    invalid_file = job.status is Status.INVALID and job.error is not None and job.error.kind == "file"
    return invalid_file or (reparse and job.status is Status.PENDING)


def parse_change(change: FileChange, defaults: PrdDefaults) -> Prd | PrdError:
    path = os.path.join(defaults.prds_dir, change.name)
    if change.unreadable is not None:
        return change.unreadable.error(path)
    return parse_prd(
        change.name,
        change.data or b"",
        path=path,
        default_cwd=defaults.default_cwd,
        default_model=defaults.default_model,
        is_dir=defaults.is_dir,
        default_workspace=defaults.default_workspace,
        check_workspace=defaults.check_workspace,
    )


def _changed(job: Job, parsed: Any, data_hash: str, now: dt.datetime, effects: list[Effect]) -> Job:
    slug = job.slug
    if isinstance(parsed, PrdError):
        if job.status in (Status.PENDING, Status.INVALID, Status.FAILED):
            if job.error == parsed:
                return job
            effects.append(PrdInvalid(slug, parsed.one_line()))
            return q.make_invalid(replace(job, content_hash=data_hash), parsed, now)
        # Running or finished: the status stays; the problem is shown until the file is fixed.
        flag = f"{CHANGED_DURING_RUN}; " if job.status is Status.RUNNING else ""
        effects.append(PrdInvalid(slug, parsed.one_line()))
        return replace(job, content_hash=data_hash, reason=f"{flag}now invalid: {parsed.one_line()}")

    refreshed = q.refresh(job, parsed, now)
    if job.status is not Status.INVALID and refreshed == replace(job, updated_at=now):
        return job  # re-read with nothing new (the defaults it falls back on are the same)
    effects.append(PrdChanged(slug, job.status.value))
    if job.status is Status.INVALID:
        return q.make_pending(refreshed, "PRD fixed", now)
    if job.status is Status.FAILED:
        effects.append(JobRequeued(slug, "PRD changed after it failed"))
        return q.make_pending(refreshed, "PRD changed after it failed", now)
    if job.status is Status.RUNNING:
        return replace(refreshed, reason=CHANGED_DURING_RUN)
    return refreshed


def _file_gone(jobs: dict[str, Job], job: Job, now: dt.datetime, effects: list[Effect]) -> None:
    if job.is_busy:
        # The run goes on; its row leaves when it ends.
        jobs[job.slug] = replace(job, file_gone=True, updated_at=now)
        effects.append(PrdRemovedDuringRun(job.slug))
        return
    del jobs[job.slug]
    effects.append(PrdRemoved(job.slug, job.status.value))


# ---------------------------------------------------------------- dependsOn


def _to_check(jobs: Mapping[str, Job], touched: Touched) -> set[str]:
    """The rows whose dependsOn may have changed meaning: only rows with dependencies, or
    invalid for them, can have a dependency problem to find or to clear."""
    slugs = touched.slugs
    to_check = {slug for slug in slugs if slug in jobs and (jobs[slug].depends_on or _dependency_invalid(jobs[slug]))}
    if touched.graph_changed:
        for job in jobs.values():
            if _dependency_invalid(job) or (job.depends_on and not slugs.isdisjoint(job.depends_on)):
                to_check.add(job.slug)
    return to_check


def _check_dependencies(jobs: dict[str, Job], to_check: set[str], now: dt.datetime, effects: list[Effect]) -> bool:
    """Marks dependency problems found and cleared in `jobs`; whether any row changed."""
    changed = False
    for slug in sorted(to_check):
        job = jobs[slug]
        if job.status is not Status.PENDING and not _dependency_invalid(job):
            continue
        problem = _dependency_problem(jobs, job)
        if problem is None:
            if _dependency_invalid(job):
                jobs[slug] = q.make_pending(job, "dependsOn resolved", now)
                effects.append(PrdAdded(slug))
                changed = True
            continue
        error = PrdError(
            path=job.error.path if job.error else f"{slug}.md",
            line=job.error.line if job.error else None,
            problem=problem[0],
            fix=problem[1],
            kind=PrdErrorKind.DEPENDENCY,
        )
        if job.error != error:
            jobs[slug] = q.make_invalid(job, error, now)
            effects.append(PrdInvalid(slug, error.one_line()))
            changed = True
    return changed


def _dependency_invalid(job: Job) -> bool:
    return job.status is Status.INVALID and job.error is not None and job.error.kind == "dependency"


def _dependency_problem(jobs: Mapping[str, Job], job: Job) -> tuple[str, str] | None:
    if not job.depends_on:
        return None
    missing = [dep for dep in job.depends_on if dep not in jobs]
    if missing:
        names = ", ".join(missing)
        return (
            f"dependsOn names {names}, which is not a PRD in prds/",
            f"add {missing[0]}.md to prds/ or remove it from dependsOn",
        )
    cycle = find_cycle(jobs, job.slug)
    if cycle:
        return (
            "dependsOn makes a cycle: " + " → ".join(cycle),
            "remove one of these dependencies so the jobs can run in some order",
        )
    return None


def find_cycle(jobs: Mapping[str, Job], start: str) -> list[str] | None:
    """The dependency path from `start` back to itself, if there is one."""
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(slug: str) -> list[str] | None:
        if slug in on_path:
            return [*path[path.index(slug) :], slug] if slug == start else None
        if slug in done or slug not in jobs:
            return None
        path.append(slug)
        on_path.add(slug)
        for dep in jobs[slug].depends_on:
            found = visit(dep)
            if found:
                return found
        path.pop()
        on_path.discard(slug)
        done.add(slug)
        return None

    return visit(start)


def dependencies_met(jobs: Mapping[str, Job], job: Job) -> bool:
    return all(dep in jobs and jobs[dep].status is Status.COMPLETED for dep in job.depends_on)


# ---------------------------------------------------------------- fix plans


# An investigation ended without its plan in prds/; the plan appearing there (written late, an
# approval whose record a crash cut short, a discarded plan put back by hand) is linked all the same.
_ENDED_ELSEWHERE = frozenset({InvestigationStatus.NO_FIX_PLAN, InvestigationStatus.HELD, InvestigationStatus.DISCARDED})


def link_fix_plan(jobs: dict[str, Job], fix_slug: str) -> bool:
    """A fix plan that an investigation was asked to write records where it came from (True:
    it was linked)."""
    fix = jobs[fix_slug]
    for job in jobs.values():
        inv = job.investigation
        if job.slug != fix_slug and inv is not None and inv.fix_plan_slug == fix_slug:
            jobs[job.slug] = replace(
                job,
                fix_plan_slug=fix_slug,
                investigation=replace(inv, status=InvestigationStatus.WROTE_FIX_PLAN, plan_path=None)
                if inv.status in _ENDED_ELSEWHERE
                else inv,
            )
            jobs[fix_slug] = replace(fix, investigation_of=job.slug)
            return True
    return False
