"""The desktop app's shell: quitting asks what to do with running agents, one instance per home, Ctrl+C."""

import os
import signal

import psutil
import pytest

from app.core.queue import Status
from app.engine.lock import EngineLock, EngineLocked
from app.gui import app as gui_app
from app.gui.app import Shell, hand_over, quit_on_signals, run_gui
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
def shell(qtbot, gui_home):
    home, environ, _project = gui_home
    lock = EngineLock(home.lock)
    lock.acquire()
    shell = Shell(home, lock, environ=environ, with_tray=False)
    finished = []
    shell.finished.connect(finished.append)
    with qtbot.waitSignal(shell.bridge.ready, timeout=20000):
        shell.start()
    yield shell
    if not finished:
        with qtbot.waitSignal(shell.finished, timeout=30000):
            shell.quit(stop_jobs=True)
    shell.window.deleteLater()


def running_agent(qtbot, shell, name):
    write_prd(shell.bridge.home, f"{name}.md", "@fake sleep 30\n")

    def pid():
        job = shell.bridge.state.jobs.get(name)
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


def test_quitting_and_leaving_jobs_running_keeps_the_agent_alive_for_the_next_start(qtbot, shell, agents):
    pid = running_agent(qtbot, shell, "01-long")
    agents.append(pid)

    shell.request_quit()
    assert shell.question is not None and shell.question.text() == "1 agent is still running."
    click(shell.question, "Cancel")
    assert shell.question is None and shell.bridge.wait(0) is False  # cancelled: the engine runs on

    shell.request_quit()
    with qtbot.waitSignal(shell.finished, timeout=30000) as finished:
        click(shell.question, "Leave them running")
    assert finished.args == [0]
    assert alive(pid)
    assert shell.bridge.state.jobs["01-long"].status is Status.RUNNING  # recorded for adoption
    assert home_is_free(shell.bridge.home)


def test_quitting_and_stopping_jobs_ends_the_agent(qtbot, shell, agents):
    pid = running_agent(qtbot, shell, "01-long")
    agents.append(pid)

    shell.request_quit()
    with qtbot.waitSignal(shell.finished, timeout=30000):
        click(shell.question, "Stop them")
    qtbot.waitUntil(lambda: not alive(pid), timeout=5000)
    assert home_is_free(shell.bridge.home)


def test_quitting_with_nothing_running_asks_nothing(qtbot, shell):
    with qtbot.waitSignal(shell.finished, timeout=30000):
        shell.request_quit()
    assert shell.question is None


def test_ctrl_c_quits_cleanly_and_leaves_agents_running(qtbot, shell, agents):
    pid = running_agent(qtbot, shell, "01-long")
    agents.append(pid)
    with quit_on_signals(shell), qtbot.waitSignal(shell.finished, timeout=30000):
        os.kill(os.getpid(), signal.SIGINT)
    assert alive(pid)
    assert home_is_free(shell.bridge.home)


def test_a_second_instance_raises_the_first_window_and_exits_0(qtbot, shell):
    shell.window.hide()
    assert run_gui(shell.bridge.home) == 0
    qtbot.waitUntil(shell.window.isVisible, timeout=5000)


def test_a_second_instance_beside_a_headless_engine_says_which_process_holds_the_home(gui_home, monkeypatch):
    home, _environ, _project = gui_home
    shown = []
    monkeypatch.setattr(gui_app, "show_error", lambda title, text: shown.append(text))
    with EngineLock(home.lock):  # what `overnight run` holds: the lock, and no window to show
        with pytest.raises(EngineLocked) as locked:
            EngineLock(home.lock).acquire()
        assert hand_over(home, locked.value) == 1
    assert f"pid {os.getpid()}" in shown[0]
