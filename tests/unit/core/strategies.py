"""Hypothesis strategies for queue values."""

import datetime as dt

from hypothesis import strategies as st

from app.core.outcome import OutcomeKind, StopReason
from app.core.prd import PrdError, PrdErrorKind
from app.core.queue import (
    CurrentRun,
    Investigation,
    InvestigationStatus,
    Job,
    LastRun,
    OnReset,
    Pause,
    PauseReason,
    QueueState,
    Resume,
    Status,
)
from app.core.stream import RateLimit, Result
from app.core.usage import Usage, Window
from app.core.verify import VerifyCommand, VerifyResult

times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2040, 1, 1), timezones=st.just(dt.UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
text = st.text(max_size=12)
slugs = st.from_regex(r"\A[0-9]{2}-[a-z]{1,6}\Z")

results = st.builds(
    Result,
    subtype=st.sampled_from(["success", "error_max_turns"]),
    is_error=st.booleans(),
    api_error_status=st.none() | st.just(429),
    num_turns=st.none() | st.integers(0, 50),
    duration_ms=st.none() | st.integers(0, 10**7),
    total_cost_usd=st.none() | st.floats(0, 100, allow_nan=False),
    text=text,
    terminal_reason=st.none() | st.just("completed"),
    errors=st.lists(text, max_size=2).map(tuple),
)
rejections = st.builds(
    RateLimit,
    status=st.just("rejected"),
    resets_at=st.none() | st.integers(0, 2**31),
    limit_type=st.none() | st.sampled_from(["five_hour", "seven_day"]),
    using_overage=st.none() | st.booleans(),
)
current_runs = st.builds(
    CurrentRun,
    run_id=text,
    started_at=times,
    log_path=text,
    content_hash=text,
    pid=st.none() | st.integers(1, 2**22),
    pid_create_time=st.none() | st.floats(0, 2e9, allow_nan=False),
    result_at=st.none() | times,
    log_offset=st.integers(0, 2**40),
    result=st.none() | results,
    rejected=st.none() | rejections,
    limit_message=st.none() | text,
    skipped_lines=st.integers(0, 100),
    stopping=st.none() | st.sampled_from(list(StopReason)),
    session_id=st.none() | text,
    resumed_from=st.none() | text,
    api_key_source=st.none() | st.sampled_from(["none", "ANTHROPIC_API_KEY", ""]),
)
last_runs = st.builds(
    LastRun,
    run_id=text,
    outcome=st.sampled_from(list(OutcomeKind)),
    exit_code=st.none() | st.integers(-15, 255),
    finished_at=times,
    duration_ms=st.integers(0, 10**8),
    cost_usd=st.none() | st.floats(0, 100, allow_nan=False),
    num_turns=st.none() | st.integers(0, 100),
    reason=text,
    session_id=st.none() | text,
    resumed_from=st.none() | text,
)
resumes = st.builds(Resume, run_id=text, session_id=text, why=text)
investigations = st.builds(
    Investigation,
    status=st.sampled_from(list(InvestigationStatus)),
    fix_plan_slug=slugs,
    failed_run_id=text,
    run_id=st.none() | text,
    pid=st.none() | st.integers(1, 2**22),
    pid_create_time=st.none() | st.floats(0, 2e9, allow_nan=False),
    started_at=st.none() | times,
    finished_at=st.none() | times,
    log_path=st.none() | text,
    reason=text,
    plan_path=st.none() | text,
)
errors = st.builds(
    PrdError,
    path=text,
    line=st.none() | st.integers(1, 1000),
    problem=text,
    fix=text,
    kind=st.sampled_from(list(PrdErrorKind)),
)


verify_results = st.builds(
    VerifyResult,
    ok=st.booleans(),
    commands=st.lists(st.builds(VerifyCommand, cmd=text, exit_code=st.none() | st.integers(-15, 255),
                                duration_ms=st.integers(0, 10**7)), max_size=3).map(tuple),
    log_path=text,
)


@st.composite
def jobs(draw, slug=slugs) -> Job:
    status = draw(st.sampled_from(list(Status)))
    return Job(
        slug=draw(slug),
        title=draw(text),
        cwd=draw(text),
        group=draw(st.integers(0, 120)),
        status=status,
        created_at=draw(times),
        updated_at=draw(times),
        content_hash=draw(text),
        estimate_minutes=draw(st.none() | st.floats(0, 1000, allow_nan=False)),
        model=draw(text),
        depends_on=tuple(draw(st.lists(slugs, max_size=3))),
        verify_commands=draw(st.none() | st.lists(text, max_size=2).map(tuple)),
        reason=draw(text),
        runs=draw(st.integers(0, 10)),
        current=draw(current_runs) if status is Status.RUNNING else None,
        last=draw(st.none() | last_runs),
        fix_plan_slug=draw(st.none() | slugs),
        investigation_of=draw(st.none() | slugs),
        extra=draw(st.dictionaries(st.text(max_size=5), st.integers() | text, max_size=3)),
        error=draw(errors) if status is Status.INVALID else None,
        investigation=draw(st.none() | investigations),
        interrupted_retries=draw(st.integers(0, 3)),
        file_gone=draw(st.booleans()),
        verify=draw(st.none() | verify_results),
        resume=draw(st.none() | resumes),
        resumes=draw(st.integers(0, 3)),
        earlier_runs=tuple(draw(st.lists(last_runs, max_size=3))),
    )


windows = st.builds(Window, utilization=st.none() | st.floats(0, 100), resets_at=st.none() | times)
usages = st.builds(Usage, five_hour=windows, seven_day=windows, polled_at=st.none() | times, stale=st.booleans())

pauses = st.builds(
    Pause,
    reason=st.sampled_from(list(PauseReason)),
    since=times,
    resume_at=st.none() | times,
    message=text,
)


@st.composite
def states(draw) -> QueueState:
    items = draw(st.lists(jobs(), max_size=4, unique_by=lambda j: j.slug))
    return QueueState(
        jobs={j.slug: j for j in items},
        paused=draw(st.none() | pauses),
        last_tick_at=draw(st.none() | times),
        on_reset=draw(st.builds(OnReset, target=st.none() | times, active=st.booleans())),
        usage=draw(usages),
    )
