"""Statuses and the transitions between them."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import queue as q
from app.core.queue import ALLOWED, IllegalTransition, LastRun, Status

from .factories import T0, job

ALL_PAIRS = list(itertools.product(list(Status), list(Status)))


def move_by_public_api(j, to):
    """Drive a job to `to` the way the engine does; the function chosen depends on `to`."""
    last = LastRun("r1", "failed", 1, T0, 10, None, None, "boom")
    if to is Status.RUNNING:
        return q.start(j, q.CurrentRun("r2", T0, "/log", "h"), T0)
    if to is Status.PENDING:
        return q.make_pending(j, "again", T0)
    if to is Status.INVALID:
        return q.make_invalid(j, q.PrdError("p", None, "bad", "fix it"), T0)
    if to is Status.SKIPPED:
        return q.skip(j, T0)
    if to is Status.CANCELLED and j.status is Status.PENDING:
        return q.cancel_pending(j, T0)
    return q.finish(j, to, last, T0)


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_only_the_allowed_transitions_happen_and_the_rest_raise(source, target):
    before = job("01-a", source)
    allowed = target in ALLOWED[source] or (source is target is Status.INVALID)
    if allowed:
        after = move_by_public_api(before, target)
        assert after.status is target
    else:
        with pytest.raises(IllegalTransition):
            move_by_public_api(before, target)


def test_a_job_is_running_exactly_when_it_has_a_current_run():
    running = q.start(job("01-a"), q.CurrentRun("r", T0, "/log", "h"), T0)
    assert running.current is not None and running.runs == 1
    done = q.finish(running, Status.COMPLETED, LastRun("r", "completed", 0, T0, 5, 0.1, 2, "ok"), T0)
    assert done.current is None and done.last.outcome == "completed"


def test_a_usage_limit_sends_a_running_job_back_to_pending():
    running = job("01-a", Status.RUNNING)
    back = q.finish(running, Status.PENDING, LastRun("r", "rate_limited", 1, T0, 5, 0, 1, "limit"), T0)
    assert back.status is Status.PENDING and back.current is None


def test_progress_of_a_run_never_changes_its_status():
    running = job("01-a", Status.RUNNING)
    assert q.update_run(running, pid=42, log_offset=100).status is Status.RUNNING
    with pytest.raises(IllegalTransition):
        q.update_run(job("01-b"), pid=1)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(list(Status)), max_size=25))
def test_no_sequence_of_transitions_leaves_a_job_in_two_states_at_once(targets):
    """Whatever is attempted, a job has one status, a current run exactly while running, and
    never keeps a run it is not running."""
    current = job("01-a")
    for target in targets:
        try:
            current = move_by_public_api(current, target)
        except IllegalTransition:
            pass
        assert (current.status is Status.RUNNING) == (current.current is not None)
        assert current.status in ALLOWED


def test_a_start_that_never_happened_is_undone_without_counting_a_run():
    waiting = job("01-a", runs=2)
    running = q.start(waiting, q.CurrentRun("r", T0, "/log", "h"), T0)
    undone = q.unstart(running, "not started: no space left on device", T0)
    assert undone.status is Status.PENDING and undone.current is None
    assert undone.runs == 2
    assert undone.reason == "not started: no space left on device"
