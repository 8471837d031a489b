"""docs/BEHAVIOUR.md section 15, the spend guard: which runs are stopped, what the pause says,
when it ends, and the day's API spend."""

import datetime as dt
import json

from app.core import spend
from app.core.queue import Pause, PauseReason
from app.core.spend import SpendRules

KEY = "ANTHROPIC_API_KEY"
ENVIRON = {KEY: "sk-ant-api03-x", "PATH": "/bin"}
GUARDED = SpendRules(allow_api_billing=False, max_usd_per_day=0, environ=ENVIRON, env_remove=())
ALLOWED = SpendRules(allow_api_billing=True, max_usd_per_day=5, environ=ENVIRON, env_remove=())
LOCAL = dt.timezone(dt.timedelta(hours=2))
NOW = dt.datetime(2026, 11, 22, 21, 30, tzinfo=dt.UTC)  # 23:30 local, on the 22nd


def test_only_a_credential_other_than_the_subscription_is_billed_per_token():
    assert spend.bills_per_token(KEY) and spend.bills_per_token("apiKeyHelper")
    assert not spend.bills_per_token("none")
    assert not spend.bills_per_token("") and not spend.bills_per_token(None)  # the CLI did not say


def test_a_billed_run_is_stopped_unless_api_billing_is_allowed():
    assert spend.stops_run(KEY, GUARDED)
    assert not spend.stops_run(KEY, ALLOWED)
    assert not spend.stops_run("none", GUARDED)


def test_the_pause_names_the_credential_and_the_three_fixes_and_is_read_back():
    pause = spend.source_pause(KEY, NOW)
    assert pause.reason is PauseReason.SPEND and pause.resume_at is None
    for words in ("billed per token through ANTHROPIC_API_KEY", "unset ANTHROPIC_API_KEY in the environment",
                  "list it in agent.env_remove", "spend.allow_api_billing: true"):
        assert words in pause.message
    assert spend.paused_source(pause) == KEY
    assert spend.paused_source(spend.source_pause("/login managed key", NOW)) == "/login managed key"
    assert spend.paused_source(Pause(PauseReason.MANUAL, NOW, None, pause.message)) is None


def test_the_credential_pause_ends_when_env_remove_keeps_the_variable_from_the_agent_or_billing_is_allowed():
    pause = spend.source_pause(KEY, NOW)
    assert spend.after_review(pause, GUARDED, 0, NOW, LOCAL) is pause
    removed = SpendRules(False, 0, ENVIRON, (KEY,))
    assert spend.after_review(pause, removed, 0, NOW, LOCAL) is None
    assert spend.after_review(pause, SpendRules(True, 0, ENVIRON, ()), 0, NOW, LOCAL) is None


def test_allowing_api_billing_past_the_days_limit_trades_the_credential_pause_for_the_limit_one():
    after = spend.after_review(spend.source_pause(KEY, NOW), ALLOWED, 6.0, NOW, LOCAL)
    assert after is not None and after.resume_at == dt.datetime(2026, 11, 23, 0, 0, tzinfo=LOCAL)


def test_a_credential_that_is_not_a_variable_of_overnights_environment_needs_billing_allowed():
    pause = spend.source_pause("apiKeyHelper", NOW)
    listed = SpendRules(False, 0, ENVIRON, ("apiKeyHelper",))
    assert spend.after_review(pause, listed, 0, NOW, LOCAL) is pause


def test_the_days_limit_pauses_until_local_midnight_and_ends_when_it_no_longer_holds():
    paused = spend.after_review(None, ALLOWED, 5.0, NOW, LOCAL)
    assert paused is not None and paused.reason is PauseReason.SPEND
    assert paused.resume_at == dt.datetime(2026, 11, 23, 0, 0, tzinfo=LOCAL)
    assert "$5.00" in paused.message and "spend.max_usd_per_day" in paused.message
    assert spend.after_review(None, ALLOWED, 4.99, NOW, LOCAL) is None
    assert spend.after_review(paused, ALLOWED, 5.0, NOW, LOCAL) is paused
    raised = SpendRules(True, 10, ENVIRON, ())
    assert spend.after_review(paused, raised, 5.0, NOW, LOCAL) is None
    no_limit = SpendRules(True, 0, ENVIRON, ())
    assert spend.after_review(None, no_limit, 500.0, NOW, LOCAL) is None


def test_the_days_limit_does_not_replace_a_stronger_pause_and_leaves_other_pauses_alone():
    manual = Pause(PauseReason.MANUAL, NOW, None, "paused by the user")
    assert spend.after_review(manual, ALLOWED, 9.0, NOW, LOCAL) is manual
    assert spend.after_review(manual, ALLOWED, 0.0, NOW, LOCAL) is manual
    network = Pause(PauseReason.NETWORK, NOW, None, "meter unreachable")
    assert spend.after_review(network, ALLOWED, 9.0, NOW, LOCAL).reason is PauseReason.SPEND


def line(ts: dt.datetime, **fields) -> str:
    return json.dumps({"ts": ts.isoformat(), "event": "run.finished", **fields})


def test_the_days_spend_sums_the_billed_runs_of_the_local_calendar_day():
    midnight = dt.datetime(2026, 11, 22, 0, 0, tzinfo=LOCAL)
    lines = [
        line(midnight - dt.timedelta(minutes=1), kind="job", runId="a", costUsd=7.0, apiKeySource=KEY),  # yesterday
        line(midnight, kind="job", runId="b", costUsd=1.25, apiKeySource=KEY),
        line(NOW, kind="investigation", runId="b", costUsd=0.5, apiKeySource=KEY),
        line(NOW, kind="job", runId="c", costUsd=3.0, apiKeySource="none"),  # the subscription pays
        line(NOW, kind="job", runId="d", costUsd=None, apiKeySource=KEY),  # no result, no cost
        json.dumps({"ts": NOW.isoformat(), "event": "removed", "slug": "x"}),
        "{not json",
    ]
    billed = spend.billed_since(lines, spend.day_start(NOW, LOCAL))
    assert set(billed) == {("job", "b"), ("investigation", "b")}
    assert spend.spent_today(billed, NOW, LOCAL) == 1.75
    tomorrow = NOW + dt.timedelta(hours=1)
    assert spend.spent_today(billed, tomorrow, LOCAL) == 0


def test_doctor_names_each_api_key_that_would_reach_the_agent_and_the_fixes_never_its_value():
    environ = {KEY: "sk-secret", "ANTHROPIC_AUTH_TOKEN": "tok-secret", "PATH": "/bin"}
    assert spend.billing_variables(environ, ()) == [KEY, "ANTHROPIC_AUTH_TOKEN"]
    assert spend.billing_variables(environ, (KEY,)) == ["ANTHROPIC_AUTH_TOKEN"]
    assert spend.billing_variables({KEY: ""}, ()) == []
    stopped = spend.billing_warning(KEY, allow_api_billing=False)
    assert "stopped at once" in stopped and "agent.env_remove" in stopped and "sk-secret" not in stopped
    assert "billed per token through it" in spend.billing_warning(KEY, allow_api_billing=True)
    token = spend.billing_warning("ANTHROPIC_AUTH_TOKEN", allow_api_billing=False)
    assert "cannot see" in token and "unset ANTHROPIC_AUTH_TOKEN" in token
