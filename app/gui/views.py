"""The Report and History views (docs/BEHAVIOUR.md section 14), opened from the Queue menu, their
shortcuts and the tray's "Queue finished" notification. One of each at a time: asking again raises it."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QWidget

from app.gui.dialogs.history_view import HistoryView
from app.gui.dialogs.report_view import ReportView
from app.paths import Home


class Views:
    """Opens the views over `home`, parented to `window`."""

    def __init__(self, window: QWidget, actions: Mapping[str, QAction], home: Home) -> None:
        self._window = window
        self._home = home
        self.report: ReportView | None = None
        self.history: HistoryView | None = None
        actions["report"].triggered.connect(self.open_report)
        actions["history"].triggered.connect(self.open_history)

    def open_report(self) -> None:
        """The Report view with the newest report (listed again when it was already open)."""
        if self.report is None:
            self.report = ReportView(self._home, self._window)
            self.report.finished.connect(self._report_closed)
        else:
            self.report.refresh()
        _raise(self.report)

    def open_history(self) -> None:
        if self.history is None:
            self.history = HistoryView(self._home, self._window)
            self.history.finished.connect(self._history_closed)
        _raise(self.history)

    def _report_closed(self) -> None:
        assert self.report is not None
        self.report.deleteLater()
        self.report = None

    def _history_closed(self) -> None:
        assert self.history is not None
        self.history.deleteLater()
        self.history = None


def _raise(dialog: QDialog) -> None:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
