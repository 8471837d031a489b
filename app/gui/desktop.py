"""The desktop around the window: the file manager, and work that must not block the GUI thread."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QUrl, Signal
from PySide6.QtGui import QDesktopServices

try:
    from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusPendingCallWatcher
except ImportError:  # a build without QtDBus: revealing falls back to opening the folder
    QDBusConnection = None  # type: ignore[assignment,misc]

_watchers: set = set()  # pending "show this file" calls, kept alive until they answer


def open_path(path: Path) -> bool:
    """Open a file or folder with the desktop's default application."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def reveal_path(path: Path) -> bool:
    """Show `path` selected in the file manager, or open its folder where that is not possible."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", str(path)])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{path}"])[0]
    if _show_item_over_dbus(path):
        return True
    return open_path(path.parent)


def _show_item_over_dbus(path: Path) -> bool:
    """Ask the file manager to select `path` (freedesktop FileManager1); open the folder if it cannot."""
    if QDBusConnection is None:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    message = QDBusMessage.createMethodCall(
        "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1", "ShowItems"
    )
    message.setArguments([[QUrl.fromLocalFile(str(path)).toString()], ""])
    watcher = QDBusPendingCallWatcher(bus.asyncCall(message))
    _watchers.add(watcher)

    def answered(done: QDBusPendingCallWatcher) -> None:
        _watchers.discard(done)
        if done.isError():
            open_path(path.parent)

    watcher.finished.connect(answered)
    return True


class _Delivery(QObject):
    done = Signal(object, object)  # result, error


# Deliveries in flight: each lives on the GUI thread until its answer has been handed over there.
_in_flight: set[_Delivery] = set()


def in_background(work: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
    """Run `work` on a worker thread; `on_done(result, error)` runs on the GUI thread.

    `on_done` should be a bound method of a QObject, so nothing is delivered to a deleted one.
    """
    delivery = _Delivery()
    _in_flight.add(delivery)
    delivery.done.connect(on_done)
    delivery.done.connect(lambda *_: _in_flight.discard(delivery))

    def run() -> None:
        try:
            result, error = work(), None
        except Exception as exc:
            result, error = None, exc
        delivery.done.emit(result, error)

    threading.Thread(target=run, name="gui-background", daemon=True).start()
