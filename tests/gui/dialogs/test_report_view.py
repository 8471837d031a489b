"""The Report view: the latest report rendered, the earlier ones listed newest first and opened on a click."""

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.gui.dialogs.report_view import NO_REPORTS, ReportView
from app.paths import Home, ensure_home


def home_with_reports(tmp_path, reports):
    home = Home(tmp_path / "home")
    ensure_home(home)
    home.reports.mkdir()
    for name, text in reports.items():
        (home.reports / name).write_text(text)
    return home


def open_view(qtbot, home):
    view = ReportView(home)
    qtbot.addWidget(view)
    view.show()
    return view


def on_the_user_s_clock(*utc: int) -> str:
    """A report's end (its name is in UTC) as the list shows it: in the computer's time zone."""
    return f"{dt.datetime(*utc, tzinfo=dt.UTC).astimezone():%Y-%m-%d %H:%M}"


def listed(view):
    return [view.reports.item(row).text() for row in range(view.reports.count())]


def test_the_latest_report_is_shown_rendered_and_the_others_listed_newest_first(qtbot, tmp_path):
    home = home_with_reports(tmp_path, {
        "2026-11-30-0712.md": "# Report of 30 November\n\n- **2** completed\n",
        "2026-12-02-0545.md": "# Report of 2 December\n\n| outcome | runs |\n|---|---|\n| failed | 1 |\n",
        "2026-12-01-2301.md": "# Report of 1 December\n",
        "notes.txt": "not a report",
    })
    view = open_view(qtbot, home)
    qtbot.waitUntil(lambda: view.shown == home.reports / "2026-12-02-0545.md", timeout=5000)
    assert listed(view) == [on_the_user_s_clock(2026, 12, 2, 5, 45), on_the_user_s_clock(2026, 12, 1, 23, 1),
                            on_the_user_s_clock(2026, 11, 30, 7, 12)]
    page = view.page.toPlainText()
    assert "Report of 2 December" in page and "|" not in page  # the table is rendered, not shown as text
    assert "# " not in page

    oldest = view.reports.item(2)
    QTest.mouseClick(view.reports.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.reports.visualItemRect(oldest).center())
    qtbot.waitUntil(lambda: "Report of 30 November" in view.page.toPlainText(), timeout=5000)
    assert "**" not in view.page.toPlainText()


def test_no_reports_yet_is_said_in_a_plain_sentence(qtbot, tmp_path):
    home = Home(tmp_path / "home")
    ensure_home(home)
    view = open_view(qtbot, home)
    qtbot.waitUntil(lambda: view.page.toPlainText() == NO_REPORTS, timeout=5000)
    assert listed(view) == []


def test_the_report_shortcut_opens_the_view_and_history_has_its_own(qtbot, idle_window):
    assert idle_window.user_actions["report"].shortcut().toString() == "Ctrl+Shift+R"
    QTest.keyClick(idle_window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: idle_window.views.report is not None and idle_window.views.report.isVisible(),
                    timeout=5000)
    queue_menu = next(action.menu() for action in idle_window.menuBar().actions() if action.text() == "&Queue")
    next(action for action in queue_menu.actions() if action.text() == "History").trigger()
    qtbot.waitUntil(lambda: idle_window.views.history is not None
                    and "No runs in the last 30 days" in idle_window.views.history.note.text(), timeout=5000)


def test_a_second_report_of_the_same_minute_is_the_newer_one(qtbot, tmp_path):
    home = home_with_reports(tmp_path, {"2026-12-02-0545.md": "# First\n", "2026-12-02-0545-2.md": "# Second\n",
                                        "notes.md": "# not a report\n"})
    view = open_view(qtbot, home)
    qtbot.waitUntil(lambda: "Second" in view.page.toPlainText(), timeout=5000)
    assert view.reports.count() == 2  # notes.md is not a report
