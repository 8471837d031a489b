"""No survivors: a run's processes are found by its marker, named so that a reused pid is never
mistaken for them, and ended for good."""

import signal
import time

import psutil

from app.engine import procs
from app.engine.procs import ProcessId
from tests.support import wait_until

from .children import start_marked


def identity(pid: int) -> ProcessId:
    ident = procs.identify(pid)
    assert ident is not None
    return ident


def test_a_process_is_named_by_its_pid_and_start_time_so_a_reused_pid_is_another_process(marker):
    process, _ = start_marked(marker)
    ident = identity(process.pid)
    assert procs.is_alive(ident)
    assert not procs.is_alive(ProcessId(ident.pid, ident.create_time - 60))  # the pid, reused
    process.kill()
    process.wait()
    assert not procs.is_alive(ident)


def test_a_process_that_exited_is_not_alive_even_before_it_is_reaped(marker):
    process, _ = start_marked(marker)
    ident = identity(process.pid)
    process.kill()
    wait_until(lambda: not procs.is_alive(ident), timeout=5)
    assert psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE  # not yet waited for
    process.wait()


def test_a_run_is_adopted_only_while_its_process_carries_its_marker(marker):
    process, _ = start_marked(marker)
    ident = identity(process.pid)
    assert procs.is_our_run(ident, marker)
    assert not procs.is_our_run(ident, "20260101T000000Z-other/01-other")
    assert not procs.is_our_run(ProcessId(ident.pid, ident.create_time - 60), marker)
    process.kill()
    process.wait()


def test_every_process_carrying_a_marker_is_found_even_in_a_session_of_its_own(marker):
    since = time.time()
    other = f"{marker}-other"
    process, [child, escapee] = start_marked(marker, "child", "escapee")
    neighbour, _ = start_marked(other)
    try:
        found = procs.marked([marker, other, "nobody/01-x"], since)
        assert sorted(ident.pid for ident in found[marker]) == sorted([process.pid, child, escapee])
        assert [ident.pid for ident in found[other]] == [neighbour.pid]
        assert found["nobody/01-x"] == []
        # Only what started after the run began can be the run's.
        assert procs.marked([marker], time.time() + 60)[marker] == []
    finally:
        for started in (process, neighbour):
            started.kill()
            started.wait()


def test_descendants_are_the_whole_tree_below_a_process(marker):
    process, [child, escapee] = start_marked(marker, "child", "escapee")
    ident = identity(process.pid)
    # An escapee leaves the session, not the tree, until its parent dies.
    assert sorted(kid.pid for kid in procs.descendants(ident)) == sorted([child, escapee])
    procs.signal_all([ident, *procs.descendants(ident)], signal.SIGKILL)
    process.wait()
    assert procs.descendants(ident) == []


def test_signalling_the_group_misses_a_process_that_left_it_and_the_marker_finds_it(marker):
    since = time.time()
    process, [_, escapee] = start_marked(marker, "child", "escapee", new_session=True)

    def marked() -> list[int]:
        return [ident.pid for ident in procs.marked([marker], since)[marker]]

    procs.signal_group(process.pid, signal.SIGKILL)
    process.wait()
    wait_until(lambda: marked() == [escapee], timeout=5)
    procs.signal_all(procs.marked([marker], since)[marker], signal.SIGKILL)
    wait_until(lambda: marked() == [], timeout=5)
    procs.signal_group(process.pid, signal.SIGKILL)  # a group that is gone is no error


def test_a_signal_never_reaches_a_process_that_is_no_longer_the_one_named(marker):
    process, _ = start_marked(marker)
    ident = identity(process.pid)
    assert procs.signal_all([ProcessId(ident.pid, ident.create_time - 60)], signal.SIGKILL) == []
    assert procs.is_alive(ident)
    assert procs.signal_all([ident], signal.SIGKILL) == [ident]
    process.wait()


def test_ending_processes_asks_first_and_kills_only_those_that_do_not_listen(marker):
    polite, _ = start_marked(marker)
    deaf, _ = start_marked(marker, deaf=True)
    polite_id, deaf_id = identity(polite.pid), identity(deaf.pid)
    assert procs.end_all([polite_id, deaf_id], grace=1.0) == [deaf_id]
    assert polite.wait() == -signal.SIGTERM
    assert deaf.wait() == -signal.SIGKILL
