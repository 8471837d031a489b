"""Hypothesis strategies for settings: every value the schema accepts, within reason."""

from hypothesis import strategies as st

from app.config.schema import (
    AgentConfig,
    Config,
    InvestigationConfig,
    NotifyConfig,
    UsageConfig,
    WatchdogConfig,
    WorkspaceConfig,
)

no_surrogates = st.characters(blacklist_categories=("Cs",))
any_text = st.text(no_surrogates, max_size=12)
non_blank = any_text.filter(lambda s: s.strip() and "\0" not in s)
seconds_above_zero = st.one_of(
    st.integers(1, 10**7), st.floats(min_value=0, max_value=1e7, exclude_min=True, allow_nan=False)
)


def seconds_at_least(minimum: int):
    return st.one_of(st.integers(minimum, 10**7), st.floats(min_value=minimum, max_value=1e7))


percent = st.one_of(st.integers(0, 100), st.floats(min_value=0, max_value=100))

http_urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9/_.?=&%-]{0,30}", fullmatch=True),
)

valid_configs = st.builds(
    Config,
    default_cwd=st.one_of(
        st.none(),
        st.just("~"),
        st.builds(lambda s: "~/" + s, any_text.filter(lambda s: "\0" not in s)),
        st.builds(lambda s: "/" + s, any_text.filter(lambda s: "\0" not in s)),
    ),
    concurrency_cap=st.integers(1, 32),
    fire_policy=st.sampled_from(["when-available", "on-reset", "manual"]),
    utilization_threshold=percent,
    weekly_threshold=percent,
    offset_minutes=st.integers(0, 10**6),
    keep_finished_days=st.integers(0, 10**4),
    retry_interrupted=st.integers(0, 100),
    agent=st.builds(
        AgentConfig,
        command=non_blank,
        model=non_blank,
        extra_args=st.lists(any_text.filter(lambda s: "\0" not in s), max_size=4).map(tuple),
        env_remove=st.lists(non_blank.filter(lambda s: "=" not in s), max_size=3).map(tuple),
    ),
    investigation=st.builds(
        InvestigationConfig,
        enabled=st.booleans(),
        model=non_blank,
        max_concurrent=st.integers(1, 64),
        max_duration=seconds_above_zero,
    ),
    usage=st.builds(
        UsageConfig,
        url=http_urls,
        poll_seconds=seconds_at_least(60),
        resume_margin=seconds_at_least(0),
        when_unknown=st.sampled_from(["fire", "hold"]),
    ),
    watchdog=st.builds(
        WatchdogConfig,
        post_result_grace=seconds_above_zero,
        kill_after=seconds_above_zero,
        idle=seconds_above_zero,
        max_duration=seconds_above_zero,
    ),
    workspace=st.builds(
        WorkspaceConfig,
        mode=st.sampled_from(["shared", "worktree"]),
        branch=st.sampled_from(["overnight/queue", "overnight/night", "overnight/team/night-2"]),
        verify=st.lists(st.text(min_size=1, max_size=20).filter(lambda c: c.strip() and "\0" not in c),
                        max_size=3).map(tuple),
        verify_timeout=seconds_above_zero,
    ),
    notify=st.builds(NotifyConfig, url=st.one_of(st.just(""), http_urls), format=st.sampled_from(["ntfy", "json"])),
)
