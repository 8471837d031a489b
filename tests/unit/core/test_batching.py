"""docs/BEHAVIOUR.md section 5: which jobs start — ordered groups, the cap, late arrivals, dependsOn."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from app.core.batching import Waiting, is_idle, is_runnable, pick_investigations, pick_next, waiting_reasons
from app.core.gate import Closed, Open
from app.core.queue import Investigation, InvestigationStatus, Status

from .factories import T0, job, jobs


def test_the_lowest_group_starts_first_up_to_the_cap():
    queue = jobs(job("01-a"), job("01-b"), job("01-c"), job("02-d"))
    assert pick_next(queue, cap=2) == ["01-a", "01-b"]


def test_a_group_waits_until_every_lower_group_has_finished_whatever_the_outcome():
    queue = jobs(job("01-a", Status.RUNNING), job("01-b", Status.FAILED), job("02-c"))
    assert pick_next(queue, cap=4) == []
    queue = jobs(job("01-a", Status.COMPLETED), job("01-b", Status.FAILED), job("02-c"))
    assert pick_next(queue, cap=4) == ["02-c"]


def test_jobs_of_higher_groups_never_start_while_a_lower_group_has_runnable_jobs():
    queue = jobs(job("01-a", Status.RUNNING), job("01-b"), job("02-c"))
    assert pick_next(queue, cap=4) == ["01-b"]


def test_a_late_arrival_in_a_lower_group_runs_at_once_beside_a_running_higher_group():
    queue = jobs(job("05-a", Status.RUNNING), job("05-b", Status.RUNNING), job("02-late"), job("05-c"))
    assert pick_next(queue, cap=4) == ["02-late"]


def test_a_late_arrival_still_respects_the_cap():
    queue = jobs(job("05-a", Status.RUNNING), job("05-b", Status.RUNNING), job("02-late"))
    assert pick_next(queue, cap=2) == []


def test_depends_on_holds_a_job_until_its_dependencies_completed():
    queue = jobs(job("01-a", Status.RUNNING, group=1), job("01-b", depends_on=("01-a",)))
    assert pick_next(queue, cap=4) == []
    assert waiting_reasons(queue, Open(), 4).get("01-b") == Waiting("waiting for 01-a")
    queue = jobs(job("01-a", Status.COMPLETED), job("01-b", depends_on=("01-a",)))
    assert pick_next(queue, cap=4) == ["01-b"]
    assert waiting_reasons(queue, Open(), 4).get("01-b") is None


def test_a_job_waiting_for_a_dependency_that_cannot_complete_says_so():
    queue = jobs(job("01-a", Status.FAILED), job("01-b", depends_on=("01-a",)), job("01-c", depends_on=("00-x",)))
    assert waiting_reasons(queue, Open(), 4).get("01-b").why == "waiting for 01-a (failed: it must complete first)"
    assert waiting_reasons(queue, Open(), 4).get("01-c").why == "waiting for 00-x, which is not in the queue"


def test_a_job_of_a_later_group_waits_for_the_earlier_group():
    queue = jobs(job("01-a", Status.RUNNING), job("02-b"))
    assert pick_next(queue, cap=4) == []
    assert waiting_reasons(queue, Open(), 4).get("02-b") == Waiting("waiting for group 1")
    queue = jobs(job("01-a"), job("03-c"))
    assert pick_next(queue, cap=4) == ["01-a"]
    assert waiting_reasons(queue, Open(), 4).get("03-c") == Waiting("waiting for group 1")
    assert waiting_reasons(queue, Open(), 4).get("01-a") is None


def test_a_runnable_job_held_by_usage_says_why_and_until_when():
    resets = T0 + dt.timedelta(hours=2)
    queue = jobs(job("01-a"))
    closed = Closed("usage", "five-hour usage 95 % ≥ 90 %", resets)
    assert waiting_reasons(queue, closed, 4).get("01-a") == Waiting("waiting: five-hour usage 95 % ≥ 90 %", resets)
    paused = Closed("paused", "lunch", None)
    assert waiting_reasons(queue, paused, 4).get("01-a") == Waiting("waiting: the queue is paused")
    unknown = Closed("unknown", "usage is unknown and usage.when_unknown is hold")
    assert waiting_reasons(queue, unknown, 4).get("01-a") == Waiting("waiting: usage is unknown")
    manual = Closed("manual", "fire policy is manual")
    assert waiting_reasons(queue, manual, 4).get("01-a") == Waiting("waiting: you start each batch")


def test_a_runnable_job_beyond_the_cap_waits_for_a_free_slot():
    queue = jobs(job("01-a", Status.RUNNING), job("01-b"))
    assert pick_next(queue, cap=1) == []
    assert waiting_reasons(queue, Open(), 1).get("01-b") == Waiting("waiting for a free slot (1 of 1 running)")


def test_a_job_whose_dependency_failed_does_not_hold_back_later_groups():
    queue = jobs(job("01-a", Status.FAILED), job("01-b", depends_on=("01-a",)), job("02-c"))
    assert pick_next(queue, cap=4) == ["02-c"]


def test_a_pending_job_whose_investigation_still_runs_waits_for_it():
    inv = Investigation(InvestigationStatus.RUNNING, "01-fix-a", "r1")
    queue = jobs(job("01-a", investigation=inv))
    assert not is_runnable(queue, queue["01-a"])


def test_investigations_do_not_use_the_cap_but_have_their_own_limit_and_wait_in_order():
    waiting = [
        job(f"0{i}-x", Status.FAILED, investigation=Investigation(InvestigationStatus.WAITING, "f", f"r{i}"))
        for i in (3, 1, 2)
    ]
    queue = jobs(job("09-a", Status.RUNNING), job("09-b", Status.RUNNING), *waiting)
    assert pick_investigations(queue, max_concurrent=1) == ["01-x"]
    running_one = Investigation(InvestigationStatus.RUNNING, "f", "r0")
    queue["00-y"] = job("00-y", Status.FAILED, investigation=running_one)
    assert pick_investigations(queue, max_concurrent=1) == []
    assert pick_investigations(queue, max_concurrent=3) == ["01-x", "02-x"]


statuses = st.sampled_from([Status.PENDING, Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.INVALID])


@st.composite
def queues(draw):
    count = draw(st.integers(0, 12))
    items = []
    for index in range(count):
        group = draw(st.integers(0, 4))
        status = draw(statuses)
        deps = tuple(draw(st.sets(st.sampled_from([f"{g}-j{i}" for g in range(5) for i in range(12)]), max_size=2)))
        items.append(job(f"{group}-j{index}", status, group=group, depends_on=deps))
    return jobs(*items)


@given(queues(), st.integers(1, 6))
def test_pick_next_never_exceeds_the_cap(queue, cap):
    running = sum(1 for j in queue.values() if j.status is Status.RUNNING)
    assert running + len(pick_next(queue, cap)) <= max(cap, running)


@given(queues(), st.integers(1, 6))
def test_pick_next_never_starts_a_higher_group_while_a_lower_one_runs(queue, cap):
    picked = pick_next(queue, cap)
    running_groups = [j.group for j in queue.values() if j.status is Status.RUNNING]
    for slug in picked:
        assert not any(group < queue[slug].group for group in running_groups)


@given(queues(), st.integers(1, 6))
def test_pick_next_starts_only_runnable_jobs_of_one_group(queue, cap):
    picked = pick_next(queue, cap)
    assert len({queue[slug].group for slug in picked}) <= 1
    for slug in picked:
        assert is_runnable(queue, queue[slug])
        lower_runnable = [j for j in queue.values() if is_runnable(queue, j) and j.group < queue[slug].group]
        assert lower_runnable == []


def test_idle_when_nothing_runs_investigates_or_can_still_run():

    assert is_idle(jobs(job("01-a", Status.COMPLETED), job("02-b", Status.INVALID)))
    assert not is_idle(jobs(job("01-a")))
    assert not is_idle(jobs(job("01-a", Status.RUNNING)))
    waiting = Investigation(InvestigationStatus.WAITING, "01-fix-a", "r1")
    assert not is_idle(jobs(job("01-a", Status.FAILED, investigation=waiting)))


def test_a_pending_job_whose_dependency_failed_cannot_keep_the_queue_busy():

    assert is_idle(jobs(job("01-a", Status.FAILED), job("02-b", depends_on=("01-a",)),
                        job("03-c", depends_on=("02-b",))))
    assert not is_idle(jobs(job("01-a", Status.RUNNING), job("02-b", depends_on=("01-a",))))
