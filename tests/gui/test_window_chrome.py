"""The window around the queue: it comes back as it was left in the same home, highlights a drag and
takes drops as copies, answers the keyboard, has a Help menu, and draws its toolbar icons for the palette."""

import datetime as dt

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import QApplication

from app.core.queue import Pause, PauseReason, QueueState, Status
from app.engine.api import Snapshot
from app.gui.bridge import EngineBridge
from app.gui.dialogs.archive import ArchiveQuestion
from app.gui.dialogs.help import PrdFormatDialog, ShortcutsDialog
from app.gui.dialogs.settings import SettingsDialog
from app.gui.main_window import MainWindow
from app.gui.queue_model import Column
from tests.support import make_home
from tests.unit.core.factories import job, jobs


def open_window(qtbot, home, environ):
    window = MainWindow(EngineBridge(home, environ=environ))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def layout_of(window):
    header = window.queue_panel.view.horizontalHeader()
    return window.size().toTuple(), window.splitter.sizes(), header.sectionSize(Column.TITLE)


def test_the_window_comes_back_as_it_was_left_in_the_same_home_and_not_in_another(qtbot, gui_home, tmp_path,
                                                                                   window_settings):
    home, environ, _project = gui_home
    first = open_window(qtbot, home, environ)
    default = layout_of(first)
    first.resize(700, 520)  # within the offscreen screen (800 x 600): a restored window is kept on screen
    first.splitter.setSizes([150, 350])
    first.queue_panel.view.horizontalHeader().resizeSection(Column.TITLE, 333)
    left = layout_of(first)
    assert left != default
    with qtbot.waitSignal(first.quitRequested):
        first.close()
    assert any(window_settings.rglob("*.ini"))

    again = open_window(qtbot, home, environ)
    assert layout_of(again) == left

    other_home, other_environ, _ = make_home(tmp_path / "other")
    other = open_window(qtbot, other_home, other_environ)
    assert layout_of(other) == default


def drag_event(kind, window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    # A file manager's drag with Shift held: it proposes a move, which would delete the original.
    actions, where = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, QPointF(40, 120)
    if kind is QDragEnterEvent:
        event = QDragEnterEvent(where.toPoint(), actions, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.ShiftModifier)
    else:
        event = QDropEvent(where, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)
    assert event.proposedAction() == Qt.DropAction.MoveAction
    QApplication.sendEvent(window, event)
    return event


def test_a_drag_highlights_the_window_until_it_leaves_or_drops_and_a_drop_is_a_copy(qtbot, idle_window, tmp_path):
    prd = tmp_path / "01-hello.md"
    prd.write_text("# Hello\nSay hello.\n")
    overlay = idle_window.drop_overlay
    assert not overlay.isVisible()
    enter = drag_event(QDragEnterEvent, idle_window, prd)
    assert enter.isAccepted() and enter.dropAction() == Qt.DropAction.CopyAction
    assert overlay.isVisible() and "Drop to add" in overlay.text()
    QApplication.sendEvent(idle_window, QDragLeaveEvent())
    assert not overlay.isVisible()

    drag_event(QDragEnterEvent, idle_window, prd)
    assert overlay.isVisible()
    dropped = drag_event(QDropEvent, idle_window, prd)
    assert dropped.isAccepted() and dropped.dropAction() == Qt.DropAction.CopyAction
    assert not overlay.isVisible()
    qtbot.waitUntil(lambda: (idle_window.home.prds / "01-hello.md").exists(), timeout=5000)
    assert prd.read_text() == "# Hello\nSay hello.\n"


def test_an_empty_queue_says_how_to_add_a_prd_and_its_link_opens_the_prd_format(qtbot, idle_window):
    hint = idle_window.queue_panel.empty_hint
    new_prd = idle_window.user_actions["new_prd"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    assert hint.isVisible() and f"Drop PRD files here, or New PRD ({new_prd})" in hint.text()
    hint.linkActivated.emit("prd-format")
    dialog = idle_window.findChild(PrdFormatDialog)
    qtbot.waitUntil(lambda: "dependsOn" in dialog.page.toPlainText(), timeout=5000)


def with_jobs(window, *items):
    state = QueueState(jobs=jobs(*items))
    window.bridge.stateChanged.emit(Snapshot(state), list(state.jobs))


def press(qtbot, widget, key, modifier=Qt.KeyboardModifier.NoModifier):
    widget.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget.window(), timeout=5000)
    qtbot.keyClick(widget, key, modifier)


def test_the_keyboard_reaches_the_filter_the_queue_and_the_selected_job(qtbot, idle_window, monkeypatch):
    window, ctrl = idle_window, Qt.KeyboardModifier.ControlModifier
    opened = []
    monkeypatch.setattr("app.gui.main_window.open_path", lambda path: opened.append(path) or True)
    with_jobs(window, job("01-done", Status.COMPLETED))
    press(qtbot, window.queue_panel.view, Qt.Key.Key_F, ctrl)
    assert window.queue_panel.filter_edit.hasFocus()
    press(qtbot, window, Qt.Key.Key_P, ctrl)
    assert window.notice.text() == "Pause: the engine is not running"
    press(qtbot, window, Qt.Key.Key_T, ctrl)
    assert window.notice.text().endswith(": the engine is not running") and "Pause" not in window.notice.text()

    window.queue_panel.select_slug("01-done")
    window.queue_panel.view.setFocus()
    press(qtbot, window.queue_panel.view, Qt.Key.Key_R, ctrl)
    assert window.notice.text() == "Re-run 01-done: the engine is not running"
    press(qtbot, window.queue_panel.view, Qt.Key.Key_Return)
    assert opened == [window.home.prds / "01-done.md"]
    press(qtbot, window.queue_panel.view, Qt.Key.Key_Delete)
    question = window.findChild(ArchiveQuestion)
    qtbot.waitUntil(lambda: question.isVisible(), timeout=5000)
    assert question.text() == "Archive 01-done?"
    question.button(question.StandardButton.Cancel).click()

    window.queue_panel.filter_edit.setFocus()
    window.queue_panel.filter_edit.setText("done")
    press(qtbot, window.queue_panel.filter_edit, Qt.Key.Key_Home)
    press(qtbot, window.queue_panel.filter_edit, Qt.Key.Key_Delete)
    assert window.queue_panel.filter_edit.text() == "one"  # Del edits the filter; it archives only in the table


def test_the_settings_shortcut_opens_settings(qtbot, idle_window):
    press(qtbot, idle_window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: idle_window.findChild(SettingsDialog) is not None, timeout=5000)
    assert idle_window.findChild(SettingsDialog).isVisible()


def test_the_help_menu_lists_every_shortcut_of_the_window_and_shows_the_prd_format(qtbot, idle_window):
    help_menu = next(action.menu() for action in idle_window.menuBar().actions() if action.text() == "&Help")
    assert [action.text() for action in help_menu.actions() if action.text()] == [
        "PRD format", "Keyboard shortcuts", "About Overnight"]
    idle_window.user_actions["shortcuts"].trigger()
    dialog = idle_window.findChild(ShortcutsDialog)
    assert dialog.isVisible()
    table = dialog.table
    rows = {table.item(row, 0).text(): table.item(row, 1).text() for row in range(table.rowCount())}
    native = QKeySequence.SequenceFormat.NativeText
    bound = {", ".join(keys.toString(native) for keys in action.shortcuts())
             for action in idle_window.findChildren(QAction) if action.shortcuts()}
    assert set(rows) == bound
    assert rows["Ctrl+F"] == "Filter the queue"
    assert rows["Del"] == "Archive (the selected job, in the queue)"
    assert rows["Ctrl+P"] == "Pause or resume"

    idle_window.user_actions["prd_format"].trigger()
    page = idle_window.findChild(PrdFormatDialog).page
    qtbot.waitUntil(lambda: "parallelGroup" in page.toPlainText(), timeout=5000)
    assert "NN-name.md" in page.toPlainText() and "invalid" in page.toPlainText()


def palette(window_color, text_color):
    colors = QPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        colors.setColor(group, QPalette.ColorRole.Window, QColor(window_color))
        colors.setColor(group, QPalette.ColorRole.WindowText, QColor(text_color))
    return colors


def icon_lightness(action):
    image = action.icon().pixmap(24, 24).toImage()
    opaque = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    opaque = [color.lightness() for color in opaque if color.alpha() > 128]
    assert opaque, f"{action.text()} has no icon"
    return sum(opaque) / len(opaque)


def test_toolbar_icons_are_light_on_a_dark_palette_and_dark_on_a_light_one(qtbot, idle_window):
    toolbar_actions = [idle_window.user_actions[key] for key in ("pause", "tick", "new_prd", "open_folder")]
    idle_window.setPalette(palette("#202124", "#e8eaed"))
    assert all(icon_lightness(action) > 180 for action in toolbar_actions)
    idle_window.setPalette(palette("#f5f5f5", "#202124"))
    assert all(icon_lightness(action) < 80 for action in toolbar_actions)


def test_the_pause_icon_keeps_the_palette_when_it_turns_into_resume(qtbot, idle_window):
    idle_window.setPalette(palette("#202124", "#e8eaed"))
    paused = Pause(reason=PauseReason.MANUAL, since=dt.datetime.now(dt.UTC), resume_at=None, message="")
    idle_window.bridge.stateChanged.emit(Snapshot(QueueState(paused=paused)), [])
    assert idle_window.user_actions["pause"].text() == "Resume"
    assert icon_lightness(idle_window.user_actions["pause"]) > 180
