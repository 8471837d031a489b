"""What the engine publishes for views (app/engine/snapshot.py): its own gate verdict, why a job
waits, the problems to show; and a new snapshot whenever one of those changes, even without a
change of the queue (docs/ARCHITECTURE.md, "The GUI")."""

import datetime as dt

from app.core.batching import Waiting
from app.core.gate import Closed, Open
from app.core.queue import Status
from tests.fakes.anthropic import FakeAnthropic

from .harness import run, until
from .test_usage_gate import metered


@run
async def test_the_snapshot_carries_the_engines_gate_verdict_and_why_a_job_waits(tmp_path):
    with FakeAnthropic() as fake:
        fake.set_usage(five_hour=95.0)
        async with metered(tmp_path, fake, {"concurrency_cap": 3}) as r:
            r.prd("01-a.md", '@fake text "a"\n')
            r.prd("02-b.md", '@fake text "b"\n', dependsOn=["01-a"])
            await until(lambda: r.status("02-b") is Status.PENDING)
            snapshot = r.engine.snapshot()
            assert snapshot.gate == Closed("usage", "five-hour usage 95 % ≥ 90 %", snapshot.gate.until)
            assert snapshot.waiting() == {
                "02-b": Waiting("waiting for 01-a"),
                "01-a": Waiting("waiting: five-hour usage 95 % ≥ 90 %", snapshot.gate.until),
            }
            assert (snapshot.running, snapshot.cap) == (0, 3)


@run
async def test_views_hear_of_a_broken_config_though_the_queue_did_not_change(tmp_path):
    with FakeAnthropic() as fake:
        async with metered(tmp_path, fake) as r:
            told = []
            r.engine.subscribe_state(lambda state, changed: told.append(changed))
            r.home.config.write_text(r.home.config.read_text() + "concurrency_cap: many\n")
            await until(lambda: [] in told and any("concurrency_cap" in p for p in r.engine.snapshot().problems))
            assert r.engine.snapshot().settings_problems == r.engine.snapshot().problems


@run
async def test_a_gate_that_opens_with_time_alone_is_told_to_views(tmp_path):
    with FakeAnthropic() as fake:
        resets = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        fake.set_usage(five_hour=95.0, five_hour_resets_at=resets)
        async with metered(tmp_path, fake) as r:
            assert isinstance(r.engine.snapshot().gate, Closed)
            told = []  # (when, whether the queue's state was the one views had already heard of)
            last = [r.engine.state]

            def listener(state, changed):
                told.append((dt.datetime.now(dt.UTC), state is last[0]))
                last[0] = state

            r.engine.subscribe_state(listener)
            await until(lambda: any(at >= resets and unchanged for at, unchanged in told), timeout=10)
            assert isinstance(r.engine.snapshot().gate, Open)
