"""A real engine on a temp home, seen through the bridge, for the GUI tier."""

import pytest

from app.gui.bridge import EngineBridge
from tests.support import make_home


@pytest.fixture
def gui_home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def bridge(qtbot, gui_home):
    home, environ, _project = gui_home
    bridge = EngineBridge(home, environ=environ)
    with qtbot.waitSignal(bridge.ready, timeout=20000):
        bridge.start()
    yield bridge
    with qtbot.waitSignal(bridge.stopped, timeout=30000):
        bridge.stop(stop_jobs=True)
    assert bridge.wait(10)
