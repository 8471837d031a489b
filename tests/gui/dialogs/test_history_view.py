"""The History view: 30 days of runs by outcome, cost and utilization, charted from the home's files."""

import datetime as dt

from PySide6.QtGui import QColor, QPalette

from app.gui.dialogs.history_view import HistoryView
from app.paths import Home, ensure_home
from tests.support import write_synthetic_history


def new_home(tmp_path):
    home = Home(tmp_path / "home")
    ensure_home(home)
    return home


def open_view(qtbot, home):
    view = HistoryView(home)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.history is not None, timeout=10000)
    return view


def test_thirty_days_of_runs_are_charted_per_day_by_outcome(qtbot, tmp_path):
    home = new_home(tmp_path)
    counts = write_synthetic_history(home, dt.datetime.now().astimezone(), runs_per_day=6)
    view = open_view(qtbot, home)
    history = view.history
    assert len(history.days) == 30
    assert {outcome: sum(per_day) for outcome, per_day in history.runs.items() if sum(per_day)} == counts
    assert history.cost == [3.0] * 30
    assert "180 runs, $90.00" in view.note.text()
    bars = [item for item in view.runs_plot.items if item.__class__.__name__ == "BarGraphItem"]
    assert len(bars) == len(history.runs)
    top = [item.opts["y0"][-1] + item.opts["height"][-1] for item in bars]
    assert max(top) == 6  # the outcomes stack up to the day's runs
    curves = view.usage_plot.listDataItems()
    assert [curve.name() for curve in curves] == ["five-hour", "seven-day"]
    assert curves[1].getOriginalDataset()[1][-1] == 20 + 29 * 2.0
    qtbot.waitUntil(lambda: not view.charts.grab().toImage().isNull())
    image = view.charts.grab().toImage()
    assert image.width() > 300 and image.height() > 300
    background = image.pixelColor(2, 2)
    assert any(image.pixelColor(x, y) != background for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7))


def test_unreadable_lines_are_skipped_and_the_view_says_how_many(qtbot, tmp_path):
    home = new_home(tmp_path)
    write_synthetic_history(home, dt.datetime.now().astimezone(), days=3, runs_per_day=2)
    with home.history.open("a") as file:
        file.write('{"ts": "2026-\n')
    view = open_view(qtbot, home)
    assert view.history.skipped == 1
    assert "1 line of history.jsonl or the heartbeat could not be read and was skipped" in view.note.text()


def test_an_empty_home_says_there_are_no_runs_yet(qtbot, tmp_path):
    view = open_view(qtbot, new_home(tmp_path))
    assert view.note.text() == "No runs in the last 30 days. No utilization recorded yet."


def test_the_charts_follow_a_dark_palette(qtbot, tmp_path):
    view = open_view(qtbot, new_home(tmp_path))
    dark = QPalette(view.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    view.setPalette(dark)
    qtbot.waitUntil(lambda: view.charts.backgroundBrush().color() == QColor("#202020"))
    assert view.runs_plot.getAxis("left").textPen().color() == QColor("#eeeeee")
    assert QColor(view.runs_plot.legend.opts["labelTextColor"]) == QColor("#eeeeee")
