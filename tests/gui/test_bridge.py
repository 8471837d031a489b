"""The engine on its thread: state reaches Qt as signals, commands answer on the GUI thread."""

import sys
import threading

from tests.support import write_prd


def test_a_dropped_prd_reaches_the_gui_thread_as_state_changes_and_runs(qtbot, bridge):
    home = bridge.home
    seen_threads = set()
    bridge.stateChanged.connect(lambda state, changed: seen_threads.add(threading.current_thread().name))
    write_prd(home, "01-hello.md", '@fake text "hi"\n')
    qtbot.waitUntil(lambda: "01-hello" in bridge.state.jobs and bridge.state.jobs["01-hello"].status == "completed",
                    timeout=15000)
    assert seen_threads == {threading.main_thread().name}


def test_a_command_answers_through_a_callback_on_the_gui_thread(qtbot, bridge):
    answers = []
    bridge.command({"cmd": "pause", "reason": "lunch"}, lambda answer: answers.append(
        (answer, threading.current_thread() is threading.main_thread())))
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    assert answers == [({"ok": True}, True)]
    qtbot.waitUntil(lambda: bridge.state.paused is not None and bridge.state.paused.message == "lunch", timeout=5000)


def test_signals_emitted_from_python_do_not_leak_references_to_true(qtbot, bridge):
    # PySide6 6.12.0 lost one reference to True per emit and aborted after a few thousand.
    before = sys.getrefcount(True)
    for _ in range(20_000):
        bridge.stateChanged.emit(bridge.snapshot, [])
    assert sys.getrefcount(True) >= before - 100
