"""A real engine on a temp home, seen through the bridge, and the main window over it, for the GUI tier.
What the window remembers (QSettings) goes to each test's own folder, never the user's settings."""

import pytest
from PySide6.QtCore import QSettings

from app.gui.bridge import EngineBridge
from app.gui.main_window import MainWindow
from tests.support import make_home


@pytest.fixture(autouse=True)
def window_settings(tmp_path):
    """The app's own settings (window layout, dismissed notes) are the test's, never the user's."""
    folder = tmp_path / "qt-settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


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
