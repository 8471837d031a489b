"""The question asked when quitting while agents run (docs/BEHAVIOUR.md section 9): leave them running, or stop them."""

from __future__ import annotations

from typing import Literal

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

QuitChoice = Literal["leave", "stop"]


class QuitQuestion(QMessageBox):
    """Open it with `open()`; on `finished`, `choice()` says what the user picked (None: cancel)."""

    def __init__(self, running: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Quit Overnight")
        agents = "1 agent is" if running == 1 else f"{running} agents are"
        self.setText(f"{agents} still running.")
        self.setInformativeText(
            "Left running, they go on working and Overnight picks them up when it starts again.\n"
            "Stopped, their jobs go back to pending and run again next time."
        )
        leave = self.addButton("Leave them running", QMessageBox.ButtonRole.AcceptRole)
        stop = self.addButton("Stop them", QMessageBox.ButtonRole.DestructiveRole)
        self._choices: dict[QuitChoice, QPushButton] = {"leave": leave, "stop": stop}
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(leave)
        self.setEscapeButton(cancel)

    def choice(self) -> QuitChoice | None:
        clicked = self.clickedButton()
        return next((name for name, button in self._choices.items() if button is clicked), None)
