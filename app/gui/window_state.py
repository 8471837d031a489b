"""What the main window remembers between starts, per home: its geometry, the splitter between the
queue and the detail pane, and the queue's column widths (and sort order).

It lives in the user's Qt settings (an ini file: `overnight/window.ini` in the platform's config
folder), one group per home, so two homes each come back as they were left.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter

KEYS = ("geometry", "window_state", "splitter", "columns")


class WindowMemory:
    """Saves and restores one home's window layout."""

    def __init__(self, home_root: Path) -> None:
        self.home_root = home_root
        # A path holds "/" (a group separator) and other characters an ini key mangles: a digest keys it.
        self.group = "home-" + hashlib.sha256(str(home_root).encode()).hexdigest()[:16]

    def _settings(self) -> QSettings:
        return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "overnight", "window")

    def restore(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> bool:
        """Put back what `save` kept for this home; False when there is nothing (a first start)."""
        settings = self._settings()
        settings.beginGroup(self.group)
        saved = {key: settings.value(key) for key in KEYS}
        settings.endGroup()
        if not isinstance(saved["geometry"], QByteArray):
            return False
        window.restoreGeometry(saved["geometry"])
        for key, restore in (("window_state", window.restoreState), ("splitter", splitter.restoreState),
                             ("columns", header.restoreState)):
            if isinstance(saved[key], QByteArray):
                restore(saved[key])
        return True

    def save(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> None:
        settings = self._settings()
        settings.beginGroup(self.group)
        settings.setValue("home", str(self.home_root))
        settings.setValue("geometry", window.saveGeometry())
        settings.setValue("window_state", window.saveState())
        settings.setValue("splitter", splitter.saveState())
        settings.setValue("columns", header.saveState())
        settings.endGroup()
