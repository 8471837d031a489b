"""A real engine on a temp home, seen through the bridge, and the main window over it, for the GUI tier."""

import pytest
from PySide6.QtCore import QSettings

from app.gui.bridge import EngineBridge
from app.gui.main_window import MainWindow
from tests.support import make_home


@pytest.fixture(autouse=True)
def _private_app_settings(tmp_path):
    """The app's own settings (what the user dismissed) are the test's, never the user's."""
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "app-settings"))


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


@pytest.fixture
def window(qtbot, bridge):
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def idle_window(qtbot, gui_home):
    """The window over a bridge whose engine never started."""
    home, environ, _project = gui_home
    window = MainWindow(EngineBridge(home, environ=environ))
    qtbot.addWidget(window)
    window.show()
    return window
