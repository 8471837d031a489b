"""The desktop app: one instance per home, the engine on its thread, the window, the tray, and a clean quit."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from collections.abc import Iterator, Mapping

from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from app.core.upkeep import alive
from app.engine.api import EngineLock, EngineLocked, EngineNotRunning, request_sync
from app.gui.bridge import EngineBridge
from app.gui.dialogs.quit import QuitChoice, QuitQuestion
from app.gui.icons import app_icon
from app.gui.main_window import MainWindow
from app.gui.tray import Tray
from app.paths import Home, ensure_root

EXIT_OK, EXIT_ERROR = 0, 1
JOIN_TIMEOUT = 10.0


def run_gui(home: Home) -> int:
    app = _application()
    try:
        ensure_root(home)
    except OSError as exc:
        show_error("Overnight cannot use its home folder", f"{home.root}: {exc}")
        return EXIT_ERROR
    lock = EngineLock(home.lock)
    try:
        lock.acquire()
    except EngineLocked as exc:
        return hand_over(home, exc)
    desktop_app = DesktopApp(home, lock)
    desktop_app.finished.connect(QApplication.exit)
    with quit_on_signals(desktop_app):
        desktop_app.start()
        return app.exec()


def _application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Overnight")
    app.setDesktopFileName("overnight")
    app.setWindowIcon(app_icon())
    # Every exit goes through DesktopApp.quit, which stops the engine and releases the home.
    app.setQuitOnLastWindowClosed(False)
    return app


def hand_over(home: Home, locked: EngineLocked) -> int:
    """Another engine holds this home: ask it to show its window, or say why it cannot."""
    try:
        answer = request_sync(home.socket, {"cmd": "show"})
    except (EngineNotRunning, OSError) as exc:
        answer = {"ok": False, "error": str(exc)}
    if answer.get("ok"):
        return EXIT_OK
    who = f"pid {locked.pid}" if locked.pid else "another process"
    show_error(
        "Overnight is already running",
        f"Another Overnight ({who}) is running the queue in {home.root}, and it cannot show a window: "
        f"{answer.get('error')}.\n\nIf it is `overnight run`, stop it first (Ctrl+C, or kill "
        f"{locked.pid or 'it'}), then start the app again.",
    )
    return EXIT_ERROR


def show_error(title: str, text: str) -> None:
    QMessageBox.critical(None, title, text)


class DesktopApp(QObject):
    """One home's app: the engine bridge, the main window, the tray when there is one, and the quit flow."""

    finished = Signal(int)  # the exit code, once the engine has stopped and the home is released

    def __init__(self, home: Home, lock: EngineLock, environ: Mapping[str, str] | None = None,
                 with_tray: bool | None = None) -> None:
        super().__init__()
        if with_tray is None:
            with_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.bridge = EngineBridge(home, environ=environ)
        self.window = MainWindow(self.bridge)
        self.tray = Tray(self.bridge, self.window) if with_tray else None
        self.window.hide_on_close = self.tray is not None
        self.question: QuitQuestion | None = None
        self._lock = lock
        self._quitting = False
        self._engine_failed = False
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.bridge.showRequested.connect(self.window.show_and_raise)
        self.bridge.failed.connect(self._show_failure)
        self.bridge.stopped.connect(self._on_stopped)
        self.window.quitRequested.connect(self.request_quit)
        if self.tray is not None:
            self.tray.quitRequested.connect(self.request_quit)

    def start(self) -> None:
        if self.tray is not None:
            self.tray.show()
        self.window.show()
        self.bridge.start()

    # ------------------------------------------------------------ quitting

    @Slot()
    def request_quit(self) -> None:
        """Quit, first asking what to do with running agents if there are any."""
        if self._quitting:
            return
        if self.question is not None:
            self.question.raise_()
            self.question.activateWindow()
            return
        running = alive(self.bridge.state.jobs)
        if running == 0:
            self.quit(stop_jobs=False)
            return
        self.question = QuitQuestion(running, self.window)
        self.question.finished.connect(self._answered)
        self.question.open()

    @Slot()
    def _answered(self) -> None:
        choice = self._take_answer()
        if self._quitting:
            return
        if choice is None:
            if self.tray is None:
                # The window is the only way back in: closing it must not leave an invisible app.
                self.window.show_and_raise()
            return
        self.quit(stop_jobs=choice == "stop")

    def _take_answer(self) -> QuitChoice | None:
        question, self.question = self.question, None
        if question is None:
            return None
        question.deleteLater()
        return question.choice()

    def quit(self, stop_jobs: bool) -> None:
        """Stop the engine (and the agents, if asked); `finished` follows once it has stopped."""
        if self._quitting:
            return
        self._quitting = True
        if self.question is not None:
            self.question.reject()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self.bridge.stop(stop_jobs=stop_jobs)

    @Slot()
    def _on_stopped(self) -> None:
        if not self._quitting:
            return  # the engine died by itself: `failed` has told the user
        self.bridge.wait(JOIN_TIMEOUT)
        self._lock.release()
        QGuiApplication.restoreOverrideCursor()
        if self.tray is not None:
            self.tray.hide()
        self.window.accept_close()
        self.window.close()
        self.finished.emit(EXIT_ERROR if self._engine_failed else EXIT_OK)

    @Slot(str)
    def _show_failure(self, message: str) -> None:
        self._engine_failed = True
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Overnight's engine stopped",
            f"The engine stopped with an error, so the queue is not running:\n\n{message}\n\n"
            f"Details are in {self.bridge.home.log_file}. Quit and start Overnight again.",
            QMessageBox.StandardButton.Close,
            self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


@contextlib.contextmanager
def quit_on_signals(desktop_app: DesktopApp) -> Iterator[None]:
    """Ctrl+C and SIGTERM quit cleanly, leaving agents running.

    Python runs signal handlers only between bytecodes, and Qt's loop runs none while idle:
    the wakeup socket makes the loop call into Python as soon as a signal arrives.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda: _drain(reader))
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    previous = {sig: signal.signal(sig, lambda *_: QTimer.singleShot(0, lambda: desktop_app.quit(stop_jobs=False)))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while reader.recv(512):
            pass
