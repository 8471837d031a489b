"""The question asked on quitting while agents run: how many run, and which answer the user picked."""

import pytest
from PySide6.QtCore import Qt

from app.gui.dialogs.quit import QuitQuestion


def question(qtbot, running):
    asked = QuitQuestion(running)
    qtbot.addWidget(asked)
    asked.open()
    return asked


def click(asked, text):
    next(button for button in asked.buttons() if button.text() == text).click()


@pytest.mark.parametrize(("text", "choice"), [("Leave them running", "leave"), ("Stop them", "stop"),
                                              ("Cancel", None)])
def test_the_button_clicked_is_the_choice(qtbot, text, choice):
    asked = question(qtbot, 2)
    assert asked.text() == "2 agents are still running."
    with qtbot.waitSignal(asked.finished):
        click(asked, text)
    assert asked.choice() == choice


def test_escape_cancels_and_one_agent_is_named_in_the_singular(qtbot):
    asked = question(qtbot, 1)
    assert asked.text() == "1 agent is still running."
    with qtbot.waitSignal(asked.finished):
        qtbot.keyClick(asked, Qt.Key.Key_Escape)
    assert asked.choice() is None
    assert asked.defaultButton().text() == "Leave them running"
