"""The spend guard with a real engine (app/engine/spend.py, docs/BEHAVIOUR.md section 15): the
stand-in agent says `apiKeySource: ANTHROPIC_API_KEY` when that variable reaches it, as the real
CLI does."""

import datetime as dt
import json

import yaml

from app.core.queue import InvestigationStatus, PauseReason, Status
from tests.support import processes_with_marker

from .harness import Running, run, until

KEY = "ANTHROPIC_API_KEY"
LOCAL = dt.timezone(dt.timedelta(hours=-5))  # a local day that is not the UTC one


def with_api_key(tmp_path, config=None, **engine_args) -> Running:
    r = Running(tmp_path, config, **engine_args)
    r.environ[KEY] = "sk-ant-api03-test"
    return r


def set_config(r: Running, section: str, **values) -> None:
    """Change config.yaml as a user would, keeping the rest of it."""
    settings = yaml.safe_load(r.home.config.read_text())
    settings.setdefault(section, {}).update(values)
    r.home.config.write_text(yaml.safe_dump(settings))


def paused(r: Running):
    return r.engine.state.paused


@run
async def test_a_run_billed_by_an_api_key_is_stopped_at_once_and_its_job_waits_behind_a_spend_pause(tmp_path):
    async with with_api_key(tmp_path) as r:
        r.prd("01-work.md", "@fake sleep 30\n")
        r.prd("02-later.md", '@fake text "later"\n')
        stopped = await until(lambda: r.named("run.spend_stopped"), timeout=10)
        await until(lambda: r.status("01-work") is Status.PENDING and r.job("01-work").last is not None)
        assert stopped[0] == {"slug": "01-work", "runId": r.job("01-work").last.run_id, "kind": "job",
                              "apiKeySource": KEY}
        job = r.job("01-work")
        assert job.investigation is None and job.resume is None and job.resumes == 0
        assert "billed per token through ANTHROPIC_API_KEY" in job.reason
        pause = paused(r)
        assert pause.reason is PauseReason.SPEND and pause.resume_at is None
        for fix in ("unset ANTHROPIC_API_KEY", "agent.env_remove", "spend.allow_api_billing: true"):
            assert fix in pause.message
        assert not processes_with_marker(f"{job.last.run_id}/01-work")
        assert r.status("02-later") is Status.PENDING and len(r.named("job.started")) == 1
        [line] = [h for h in await r.history() if h.get("event") == "run.finished"]
        assert (line["status"], line["outcome"], line["apiKeySource"]) == ("pending", "cancelled", KEY)


@run
async def test_listing_the_key_in_env_remove_ends_the_spend_pause_and_the_job_runs_on_the_subscription(tmp_path):
    async with with_api_key(tmp_path) as r:
        r.prd("01-work.md", "@fake sleep 30\n")
        await until(lambda: paused(r) is not None and r.status("01-work") is Status.PENDING, timeout=10)
        set_config(r, "agent", env_remove=[KEY])
        await until(lambda: r.status("01-work") is Status.COMPLETED, timeout=40)
        assert r.named("queue.resumed")[0]["was"] == "spend"
        assert r.job("01-work").runs == 2
        assert (await r.history())[-1]["apiKeySource"] == "none"


@run
async def test_allowing_api_billing_ends_the_spend_pause_and_a_later_run_is_billed(tmp_path):
    async with with_api_key(tmp_path) as r:
        r.prd("01-work.md", '@fake sleep 2\n@fake text "billed"\n')
        await until(lambda: paused(r) is not None, timeout=10)
        set_config(r, "spend", allow_api_billing=True)
        await until(lambda: r.status("01-work") is Status.COMPLETED, timeout=20)
        assert paused(r) is None
        last = (await r.history())[-1]
        assert last["apiKeySource"] == KEY and last["costUsd"] > 0


@run
async def test_with_api_billing_allowed_a_run_goes_on_and_the_days_limit_pauses_until_local_midnight(tmp_path):
    config = {"spend": {"allow_api_billing": True, "max_usd_per_day": 0.0001}}
    async with with_api_key(tmp_path, config, local_tz=LOCAL) as r:
        r.prd("01-first.md", '@fake text "one"\n')
        await until(lambda: r.status("01-first") is Status.COMPLETED, timeout=20)
        await until(lambda: paused(r) is not None)
        r.prd("02-second.md", '@fake text "two"\n')
        await until(lambda: r.status("02-second") is Status.PENDING)
        pause = paused(r)
        tomorrow = dt.datetime.now(LOCAL).date() + dt.timedelta(days=1)
        assert pause.reason is PauseReason.SPEND
        assert pause.resume_at == dt.datetime.combine(tomorrow, dt.time(), tzinfo=LOCAL)
        assert "spend.max_usd_per_day" in pause.message and "$0.00" in pause.message
        assert not r.named("run.spend_stopped") and len(r.named("job.started")) == 1


@run
async def test_the_days_spend_read_from_history_at_the_start_holds_the_queue_from_the_first_second(tmp_path):
    config = {"spend": {"allow_api_billing": True, "max_usd_per_day": 1.5}}
    r = with_api_key(tmp_path, config, local_tz=LOCAL)
    now = dt.datetime.now(dt.UTC)
    yesterday = now - dt.timedelta(days=1, hours=1)
    lines = [
        {"ts": now.isoformat(), "event": "run.finished", "kind": "job", "runId": "a", "costUsd": 1.0,
         "apiKeySource": KEY},
        {"ts": now.isoformat(), "event": "run.finished", "kind": "investigation", "runId": "a", "costUsd": 0.5,
         "apiKeySource": KEY},
        {"ts": now.isoformat(), "event": "run.finished", "kind": "job", "runId": "b", "costUsd": 9.0,
         "apiKeySource": "none"},  # the subscription's: not API spend
        {"ts": yesterday.isoformat(), "event": "run.finished", "kind": "job", "runId": "c", "costUsd": 9.0,
         "apiKeySource": KEY},
    ]
    r.home.history.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{broken\n")
    r.prd("01-work.md", '@fake text "held"\n')
    async with r:
        pause = paused(r)
        assert pause is not None and pause.reason is PauseReason.SPEND and "$1.50" in pause.message
        set_config(r, "spend", max_usd_per_day=2)
        await until(lambda: r.status("01-work") is Status.COMPLETED, timeout=20)


@run
async def test_a_daily_limit_set_while_overnight_runs_counts_what_history_says_was_spent_today(tmp_path):
    r = with_api_key(tmp_path, {"spend": {"allow_api_billing": True}}, local_tz=LOCAL)
    today = {"ts": dt.datetime.now(dt.UTC).isoformat(), "event": "run.finished", "kind": "job", "runId": "a",
             "costUsd": 1.25, "apiKeySource": KEY}
    r.home.history.write_text(json.dumps(today) + "\n")
    async with r:
        assert paused(r) is None  # no limit yet
        set_config(r, "spend", max_usd_per_day=1)
        pause = await until(lambda: paused(r), timeout=10)
        assert pause.reason is PauseReason.SPEND and "$1.25" in pause.message


@run
async def test_an_investigation_billed_by_an_api_key_is_stopped_and_waits_for_its_turn_again(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("03-broken.md", "@fake sleep 0.5\n@fake max_turns\n@investigator sleep 30\n")
        await until(lambda: r.named("job.started"))
        r.engine.environ[KEY] = "sk-ant-api03-test"  # the job's agent started without it; its investigation gets it
        stopped = await until(lambda: r.named("run.spend_stopped"), timeout=15)
        assert stopped[0]["kind"] == "investigation"
        await until(lambda: r.investigation("03-broken") is InvestigationStatus.WAITING
                    and "billed per token" in r.job("03-broken").investigation.reason, timeout=10)
        assert r.status("03-broken") is Status.FAILED
        assert paused(r).reason is PauseReason.SPEND
        assert not any(h.get("kind") == "investigation" for h in await r.history())
        set_config(r, "agent", env_remove=[KEY])
        await until(lambda: paused(r) is None, timeout=10)
