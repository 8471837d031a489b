"""What the desktop app remembers between starts, per home: the main window's geometry, the splitter
between the queue and the detail pane, the queue's column widths (and sort order), and notes the user
has dismissed.

It lives in the app's own settings (an ini file, `overnight/app.ini` in the platform's config folder;
config.yaml is the engine's), one group per home, so two homes each come back as they were left.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter

KEYS = ("geometry", "window_state", "splitter", "columns")


def home_settings(home_root: Path) -> QSettings:
    """The app's settings, opened on the group of this home."""
    settings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "overnight", "app")
    # A path holds "/" (a group separator) and other characters an ini key mangles: a digest keys it.
    settings.beginGroup("home-" + hashlib.sha256(str(home_root).encode()).hexdigest()[:16])
    return settings


class WindowMemory:
    """Saves and restores one home's window layout."""

    def __init__(self, home_root: Path) -> None:
        self.home_root = home_root

    def restore(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> bool:
        """Put back what `save` kept for this home; False when there is nothing (a first start)."""
        settings = home_settings(self.home_root)
        saved = {key: settings.value(key) for key in KEYS}
        if not isinstance(saved["geometry"], QByteArray):
            return False
        window.restoreGeometry(saved["geometry"])
        for key, restore in (("window_state", window.restoreState), ("splitter", splitter.restoreState),
                             ("columns", header.restoreState)):
            if isinstance(saved[key], QByteArray):
                restore(saved[key])
        return True

    def save(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> None:
        settings = home_settings(self.home_root)
        settings.setValue("home", str(self.home_root))  # which home this group is, for whoever reads the file
        settings.setValue("geometry", window.saveGeometry())
        settings.setValue("window_state", window.saveState())
        settings.setValue("splitter", splitter.saveState())
        settings.setValue("columns", header.saveState())
