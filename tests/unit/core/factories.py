"""Small builders for core values, so tests say only what matters to them."""

import datetime as dt

from app.core.queue import CurrentRun, Job, Status

T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


def job(
    slug: str,
    status: Status = Status.PENDING,
    group: int | None = None,
    depends_on: tuple[str, ...] = (),
    **fields,
) -> Job:
    if group is None:
        prefix = slug.split("-", 1)[0]
        group = int(prefix) if prefix.isdigit() else 99
    current = fields.pop("current", None)
    if status is Status.RUNNING and current is None:
        current = CurrentRun(run_id=f"run-{slug}", started_at=T0, log_path=f"/runs/{slug}.jsonl", content_hash="h")
    fields.setdefault("title", slug)
    return Job(
        slug=slug,
        cwd="/tmp",
        group=group,
        status=status,
        created_at=T0,
        updated_at=T0,
        content_hash="h",
        model="sonnet",
        depends_on=depends_on,
        current=current,
        **fields,
    )


def jobs(*items: Job) -> dict[str, Job]:
    return {item.slug: item for item in items}
