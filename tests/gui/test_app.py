"""The desktop app: quitting asks what to do with running agents, one instance per home, Ctrl+C."""

import os
import signal

import psutil
import pytest

from app.core.queue import Status
from app.engine.api import EngineLock, EngineLocked
from app.gui import app as gui_app
from app.gui.app import DesktopApp, hand_over, quit_on_signals, run_gui
from tests.support import write_prd

# The offscreen platform cannot raise a window or pass size hints to a window manager.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|propagateSizeHints)")


@pytest.fixture
def agents():
    """Agent processes a test leaves running on purpose; killed at the end whatever happens."""
    pids = []
    yield pids
    for pid in pids:
        try:
            agent = psutil.Process(pid)
            agent.kill()
            agent.wait(10)
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def desktop_app(qtbot, gui_home):
    home, environ, _project = gui_home
    lock = EngineLock(home.lock)
    lock.acquire()
    desktop_app = DesktopApp(home, lock, environ=environ, with_tray=False)
    finished = []
    desktop_app.finished.connect(finished.append)
    with qtbot.waitSignal(desktop_app.bridge.ready, timeout=20000):
        desktop_app.start()
    yield desktop_app
    if not finished:
        with qtbot.waitSignal(desktop_app.finished, timeout=30000):
            desktop_app.quit(stop_jobs=True)
    desktop_app.window.deleteLater()


def running_agent(qtbot, desktop_app, name):
    write_prd(desktop_app.bridge.home, f"{name}.md", "@fake sleep 30\n")

    def pid():
        job = desktop_app.bridge.state.jobs.get(name)
        return job is not None and job.status is Status.RUNNING and job.current.pid

    qtbot.waitUntil(lambda: bool(pid()), timeout=15000)
    return pid()


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def home_is_free(home):
    try:
        EngineLock(home.lock).acquire()
    except EngineLocked:
        return False
    return True


def click(question, text):
    """What the user does: clicks the button with that text."""
    next(button for button in question.buttons() if button.text() == text).click()


def test_quitting_and_leaving_jobs_running_keeps_the_agent_alive_for_the_next_start(qtbot, desktop_app, agents):
    pid = running_agent(qtbot, desktop_app, "01-long")
    agents.append(pid)

    desktop_app.request_quit()
    assert desktop_app.question is not None and desktop_app.question.text() == "1 agent is still running."
    click(desktop_app.question, "Cancel")
    assert desktop_app.question is None and desktop_app.bridge.wait(0) is False  # cancelled: the engine runs on

    desktop_app.request_quit()
    with qtbot.waitSignal(desktop_app.finished, timeout=30000) as finished:
        click(desktop_app.question, "Leave them running")
    assert finished.args == [0]
    assert alive(pid)
    assert desktop_app.bridge.state.jobs["01-long"].status is Status.RUNNING  # recorded for adoption
    assert home_is_free(desktop_app.bridge.home)


def test_quitting_and_stopping_jobs_ends_the_agent(qtbot, desktop_app, agents):
    pid = running_agent(qtbot, desktop_app, "01-long")
    agents.append(pid)

    desktop_app.request_quit()
    with qtbot.waitSignal(desktop_app.finished, timeout=30000):
        click(desktop_app.question, "Stop them")
    qtbot.waitUntil(lambda: not alive(pid), timeout=5000)
    assert home_is_free(desktop_app.bridge.home)


def test_quitting_with_nothing_running_asks_nothing(qtbot, desktop_app):
    with qtbot.waitSignal(desktop_app.finished, timeout=30000):
        desktop_app.request_quit()
    assert desktop_app.question is None


def test_ctrl_c_quits_cleanly_and_leaves_agents_running(qtbot, desktop_app, agents):
    pid = running_agent(qtbot, desktop_app, "01-long")
    agents.append(pid)
    with quit_on_signals(desktop_app), qtbot.waitSignal(desktop_app.finished, timeout=30000):
        os.kill(os.getpid(), signal.SIGINT)
    assert alive(pid)
    assert home_is_free(desktop_app.bridge.home)


def test_a_second_instance_raises_the_first_window_and_exits_0(qtbot, desktop_app):
    desktop_app.window.hide()
    assert run_gui(desktop_app.bridge.home) == 0
    qtbot.waitUntil(desktop_app.window.isVisible, timeout=5000)


def test_a_second_instance_beside_a_headless_engine_says_which_process_holds_the_home(gui_home, monkeypatch):
    home, _environ, _project = gui_home
    shown = []
    monkeypatch.setattr(gui_app, "show_error", lambda title, text: shown.append(text))
    with EngineLock(home.lock):  # what `overnight run` holds: the lock, and no window to show
        with pytest.raises(EngineLocked) as locked:
            EngineLock(home.lock).acquire()
        assert hand_over(home, locked.value) == 1
    assert f"pid {os.getpid()}" in shown[0]
