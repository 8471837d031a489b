"""The usage meter, in the engine: it holds and releases the queue."""

import os
import time

from app.core.queue import PauseReason, Status
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli import write_credentials

from .harness import Running, run, until


def metered(tmp_path, fake: FakeAnthropic, config=None) -> Running:
    r = Running(tmp_path, config)
    write_credentials(r.home.root.parent / "user" / ".claude")
    r.environ["OVERNIGHT_USAGE_URL"] = fake.usage_url
    return r


def sign_in_again(r: Running) -> None:
    """What `claude` does when the user signs in: the credentials file is rewritten (a re-poll follows)."""
    path = write_credentials(r.home.root.parent / "user" / ".claude")
    later = time.time() + 2
    os.utime(path, (later, later))


@run
async def test_a_full_meter_holds_the_queue_from_the_first_second_and_headroom_releases_it(tmp_path):
    with FakeAnthropic() as fake:
        fake.set_usage(five_hour=95.0)
        async with metered(tmp_path, fake) as r:
            assert r.named("usage.polled")[0]["fiveHour"] == 95.0
            r.prd("01-a.md", '@fake text "a"\n')
            await until(lambda: r.status("01-a") is Status.PENDING)
            status = await r.engine.handle({"cmd": "status"})
            assert status["gate"] == {"open": False, "reason": "five-hour usage 95 % ≥ 90 %"}
            assert status["usage"]["fiveHour"] == 95.0
            fake.set_usage(five_hour=20.0)
            sign_in_again(r)
            await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=10)
            assert r.named("usage.polled")[-1]["fiveHour"] == 20.0


@run
async def test_the_weekly_threshold_holds_the_queue_too(tmp_path):
    with FakeAnthropic() as fake:
        fake.set_usage(five_hour=5.0, seven_day=99.0)
        async with metered(tmp_path, fake) as r:
            r.prd("01-a.md", '@fake text "a"\n')
            await until(lambda: r.status("01-a") is Status.PENDING)
            assert "seven-day usage 99 % ≥ 98 %" in (await r.engine.handle({"cmd": "status"}))["gate"]["reason"]


@run
async def test_a_busy_meter_keeps_the_last_values_marked_stale_without_pausing(tmp_path):
    with FakeAnthropic() as fake:
        fake.set_usage(five_hour=42.0)
        async with metered(tmp_path, fake) as r:
            fake.set_usage_failure(status=429, retry_after=300)
            sign_in_again(r)
            await until(lambda: r.named("usage.failed"))
            assert r.named("usage.failed")[-1]["kind"] == "rate_limited"
            usage = (await r.engine.handle({"cmd": "status"}))["usage"]
            assert usage["fiveHour"] == 42.0 and usage["stale"] is True
            assert r.engine.state.paused is None


@run
async def test_refused_credentials_pause_auth_and_signing_in_again_resumes(tmp_path):
    with FakeAnthropic() as fake:
        fake.set_usage_failure(status=403)
        async with metered(tmp_path, fake) as r:
            assert r.engine.state.paused.reason is PauseReason.AUTH
            r.prd("01-a.md", '@fake text "a"\n')
            await until(lambda: r.status("01-a") is Status.PENDING)
            fake.clear_usage_failure()
            sign_in_again(r)
            await until(lambda: r.status("01-a") is Status.COMPLETED, timeout=10)
            assert r.named("queue.resumed")[0]["reason"] == "usage meter answered"


@run
async def test_when_unknown_hold_keeps_the_queue_without_credentials(tmp_path):
    async with Running(tmp_path, {"usage": {"when_unknown": "hold"}}) as r:
        r.prd("01-a.md", '@fake text "a"\n')
        await until(lambda: r.status("01-a") is Status.PENDING)
        assert (await r.engine.handle({"cmd": "status"}))["gate"]["reason"] == (
            "usage is unknown and usage.when_unknown is hold"
        )
        assert "no credentials" in r.engine.needs_user()
