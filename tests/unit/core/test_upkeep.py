"""docs/BEHAVIOUR.md sections 4 and 6: questions about the whole queue as time passes."""

import datetime as dt
from dataclasses import replace

from app.core import gate as gates
from app.core.queue import Investigation, InvestigationStatus, QueueState, Status
from app.core.upkeep import alive, has_anything_left, has_work, needs_user, to_prune
from app.core.usage import UNKNOWN, Usage, Window

from .factories import T0, job, jobs

KNOWN = Usage(Window(10.0, None), Window(10.0, None), polled_at=T0)


def test_work_is_something_running_or_waiting_to_run():
    assert has_work(jobs(job("01-a", Status.PENDING)))
    assert has_work(jobs(job("01-a", Status.RUNNING)))
    assert not has_work(jobs(job("01-a", Status.COMPLETED), job("02-b", Status.FAILED), job("03-c", Status.INVALID)))


def state(*rows, paused=None, usage=KNOWN):
    return QueueState(jobs=jobs(*rows), paused=paused, usage=usage)


def test_a_pause_only_the_user_can_end_needs_the_user_whatever_the_queue_holds():
    manual = gates.manual_pause("lunch", T0)
    assert needs_user(state(paused=manual), "auto", "fire", None).startswith("paused (manual)")


def test_a_missing_agent_needs_the_user_so_until_idle_stops_rather_than_waiting_forever():
    setup = gates.setup_pause("claude", T0)
    assert needs_user(state(job("01-a"), paused=setup), "auto", "fire", None).startswith("paused (setup)")


def test_a_manual_fire_policy_needs_the_user_only_while_something_waits():
    why = needs_user(state(job("01-a")), "manual", "fire", None)
    assert why == "fire policy is manual: runs start only with Start next batch now (overnight tick)"
    assert needs_user(state(job("01-a", Status.COMPLETED)), "manual", "fire", None) is None


def test_unknown_usage_held_for_want_of_credentials_needs_the_user_but_a_failing_meter_does_not():
    waiting = job("01-a")
    assert "no credentials" in needs_user(state(waiting, usage=UNKNOWN), "auto", "hold", "no_credentials")
    assert needs_user(state(waiting, usage=UNKNOWN), "auto", "hold", "transient") is None
    assert needs_user(state(waiting, usage=UNKNOWN), "auto", "fire", "no_credentials") is None


def test_old_finished_rows_are_pruned_unless_needed_busy_or_recent():
    cutoff = T0 + dt.timedelta(days=1)
    old_done = job("01-done", Status.COMPLETED)
    needed = job("01-needed", Status.FAILED)
    waiting = job("02-waits", depends_on=("01-needed",))
    investigating = job("01-inv", Status.FAILED, investigation=Investigation(
        InvestigationStatus.RUNNING, "01-fix-inv", failed_run_id="r"))
    recent = replace(job("01-recent", Status.COMPLETED), updated_at=cutoff)
    pruned = to_prune(jobs(old_done, needed, waiting, investigating, recent), cutoff)
    assert [row.slug for row in pruned] == ["01-done"]


def test_the_queue_has_something_left_while_anything_runs_waits_or_awaits_its_investigation():
    waiting_inv = Investigation(InvestigationStatus.WAITING, "01-fix-a", failed_run_id="r")
    assert has_anything_left(jobs(job("01-a", Status.FAILED, investigation=waiting_inv)))
    assert has_anything_left(jobs(job("01-a")))
    assert not has_anything_left(jobs(job("01-a", Status.FAILED), job("02-b", Status.COMPLETED)))
    assert alive(jobs(job("01-a", Status.RUNNING), job("02-b"), job("03-c", Status.COMPLETED))) == 1
