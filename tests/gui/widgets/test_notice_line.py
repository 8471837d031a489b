"""The notice line: an answer to the user's command shows for a while and then goes; an error shows in red."""

from app.gui.formatting import ERROR_COLOR
from app.gui.widgets.notice_line import NoticeLine


def notice_line(qtbot):
    line = NoticeLine()
    qtbot.addWidget(line)
    line.show()
    return line


def test_a_message_shows_with_its_text_as_tooltip_and_clears_itself_after_its_timeout(qtbot):
    line = notice_line(qtbot)
    line.show_message("Pause: the queue is paused", 50)
    assert line.text() == line.toolTip() == "Pause: the queue is paused"
    qtbot.waitUntil(lambda: line.text() == "", timeout=3000)


def test_an_error_shows_in_red_and_the_next_plain_message_does_not(qtbot):
    line = notice_line(qtbot)
    line.show_message("Resume: the queue is not paused", 60_000, is_error=True)
    assert ERROR_COLOR in line.styleSheet()
    line.show_message("Paused", 60_000)
    assert line.text() == "Paused"
    assert ERROR_COLOR not in line.styleSheet()
