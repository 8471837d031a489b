"""The transcript view: it follows the tail only while the user is scrolled to the bottom."""

from app.gui.transcript_model import RowKind, TranscriptModel, TranscriptRow
from app.gui.widgets.transcript_view import TranscriptView


def fill(model, count, start=0):
    model.append_rows([TranscriptRow(RowKind.TEXT, f"line {n}") for n in range(start, start + count)])


def test_the_view_follows_the_tail_only_while_scrolled_to_the_bottom(qtbot):
    model = TranscriptModel()
    view = TranscriptView()
    view.setModel(model)
    view.resize(300, 150)
    qtbot.addWidget(view)
    view.show()
    bar = view.verticalScrollBar()
    fill(model, 50)
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)
    bar.setValue(0)
    first_maximum = bar.maximum()
    fill(model, 50, start=50)
    qtbot.waitUntil(lambda: bar.maximum() > first_maximum, timeout=3000)
    assert bar.value() == 0 and not view.following
    bar.setValue(bar.maximum())
    fill(model, 50, start=100)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() and model.rowCount() == 150, timeout=3000)
    assert view.following
