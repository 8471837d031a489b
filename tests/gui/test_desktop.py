"""Work kept off the GUI thread: the window goes on while it runs, and its answer or its error comes back
on the GUI thread."""

import threading

from PySide6.QtCore import QObject

from app.gui.desktop import in_background


class Receiver(QObject):
    """Where an answer is delivered, as a dialog receives it: a bound method of a QObject."""

    def __init__(self):
        super().__init__()
        self.answers = []

    def done(self, result, error):
        self.answers.append((result, error, threading.current_thread() is threading.main_thread()))


def test_the_work_runs_on_another_thread_and_its_result_arrives_on_the_gui_thread(qtbot):
    receiver = Receiver()
    released = threading.Event()

    def work():
        released.wait(5)
        return threading.current_thread() is threading.main_thread()

    in_background(work, receiver.done)
    assert receiver.answers == []  # the call did not wait for the work
    released.set()
    qtbot.waitUntil(lambda: bool(receiver.answers), timeout=5000)
    assert receiver.answers == [(False, None, True)]


def test_an_error_in_the_work_arrives_as_the_error(qtbot):
    receiver = Receiver()
    failure = OSError("disk full")

    def work():
        raise failure

    in_background(work, receiver.done)
    qtbot.waitUntil(lambda: bool(receiver.answers), timeout=5000)
    assert receiver.answers == [(None, failure, True)]
