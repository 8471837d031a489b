"""The settings dialog's fields: one editor per kind of value (text, a path with Browse, a number,
a duration shown in minutes or hours while the file keeps seconds, a choice, a switch, a list),
each reading and writing the plain value config.yaml holds. A path field also says, blocking and
so off the GUI thread, what is wrong with the path it holds."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.formatting import ERROR_COLOR

# Wider than what is allowed, so an out-of-range value is explained by the engine's rule, not silently clamped.
NUMBER_LIMIT = 10_000_000


class Field(QObject):
    """One setting's editor: reads and writes a plain value, says when it changed, shows its error."""

    changed = Signal()

    def __init__(self, key: str, editor: QWidget, help_text: str) -> None:
        super().__init__(editor)
        self.key = key
        self.editor = editor
        self.widget = editor  # what the form shows: the editor, or a row holding it and its buttons
        self.outlined = editor  # what a red border marks when the value is bad
        self.error = QLabel(editor.parentWidget())
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        editor.setToolTip(help_text)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def show_error(self, message: str | None) -> None:
        self.error.setVisible(message is not None)
        self.error.setText(message or "")
        outline = f"{type(self.outlined).__name__} {{ border: 1px solid {ERROR_COLOR}; }}"
        self.outlined.setStyleSheet(outline if message is not None else "")


class TextField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, empty_means: str = "") -> None:
        line = QLineEdit(parent)
        line.setPlaceholderText(empty_means)
        super().__init__(key, line, help_text)
        self.line = line
        self._empty_is_none = bool(empty_means)
        self.line.textChanged.connect(self.changed)

    def value(self) -> Any:
        text = self.line.text()
        return None if self._empty_is_none and not text.strip() else text

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))


def folder_problem(value: str | None) -> str | None:
    """Blocking (it looks at the disk): why `value` is no folder to run PRDs in, or None."""
    path = os.path.abspath(os.path.expanduser(value or "~"))
    if not os.path.exists(path):
        return f"{path} does not exist — create it, or choose an existing folder with Browse"
    if not os.path.isdir(path):
        return f"{path} is a file, not a folder — choose a folder with Browse"
    return None


def program_problem(value: str | None) -> str | None:
    """Blocking (it looks at the disk): why `value` is no program to start, or None."""
    command = (value or "").strip()
    if not command or shutil.which(command) is not None:
        return None  # an empty command is the engine's rule to explain
    if os.sep not in command:
        return f"{command!r} is not a program on PATH — install Claude Code, or choose the program with Browse"
    if not os.path.exists(command):
        return f"{command} does not exist — choose the claude program with Browse"
    return f"{command} is not an executable program — choose the claude program with Browse"


class PathField(TextField):
    """A path typed or chosen with Browse; `check` says (blocking) what is wrong with it."""

    def __init__(self, key: str, parent: QWidget, help_text: str, check: Callable[[str | None], str | None],
                 folder: bool, empty_means: str = "") -> None:
        super().__init__(key, parent, help_text, empty_means)
        self.check = check
        self.folder = folder
        self.chooser: QFileDialog | None = None
        self.widget = QWidget(parent)
        self.browse_button = QPushButton("Browse…", self.widget)
        layout = QHBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse_button)
        self.browse_button.clicked.connect(self.browse)

    def browse(self) -> None:
        """A file dialog opened without blocking; what the user picks replaces the text."""
        start = os.path.expanduser(self.line.text().strip() or "~")
        title = "Choose a folder" if self.folder else "Choose the program"
        self.chooser = chooser = QFileDialog(self.widget, title, start if self.folder else os.path.dirname(start))
        chooser.setFileMode(QFileDialog.FileMode.Directory if self.folder else QFileDialog.FileMode.ExistingFile)
        chooser.fileSelected.connect(self.line.setText)
        chooser.finished.connect(chooser.deleteLater)
        chooser.open()


class IntField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, suffix: str = "") -> None:
        spin = QSpinBox(parent)
        spin.setRange(0, NUMBER_LIMIT)
        spin.setSuffix(suffix)
        super().__init__(key, spin, help_text)
        self.spin = spin
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> Any:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))


class NumberField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, suffix: str = "", prefix: str = "",
                 decimals: int = 1, zero: str = "") -> None:
        """`zero`: the words shown for 0 when it means something of its own (e.g. "No limit")."""
        spin = QDoubleSpinBox(parent)
        spin.setRange(0, NUMBER_LIMIT)
        spin.setDecimals(decimals)
        spin.setSuffix(suffix)
        spin.setPrefix(prefix)
        spin.setSpecialValueText(zero)
        super().__init__(key, spin, help_text)
        self.spin = spin
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> Any:
        number = self.spin.value()
        return int(number) if number.is_integer() else number

    def set_value(self, value: Any) -> None:
        self.spin.setValue(float(value))


class _ShortNumberBox(QDoubleSpinBox):
    """A number without trailing zeros: "20", "1.5", not "20.00"."""

    def textFromValue(self, value: float) -> str:
        text = super().textFromValue(value)
        point = self.locale().decimalPoint()
        return text.rstrip("0").removesuffix(point) if point in text else text


# The units a duration is shown in, largest first, with their length in seconds.
DURATION_UNITS = {"h": 3600, "min": 60, "s": 1}


class DurationField(Field):
    """Seconds in config.yaml, shown in the largest unit that says them exactly (20 min, 4 h, 90 s)."""

    def __init__(self, key: str, parent: QWidget, help_text: str) -> None:
        box = QWidget(parent)
        super().__init__(key, box, help_text)
        self.spin = _ShortNumberBox(box)
        self.spin.setRange(0, NUMBER_LIMIT)
        self.spin.setDecimals(2)
        self.unit = QComboBox(box)
        self.unit.addItems(list(DURATION_UNITS))
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.unit)
        self.outlined = self.spin
        self.spin.valueChanged.connect(self.changed)
        self.unit.currentTextChanged.connect(self.changed)

    def value(self) -> Any:
        seconds = round(self.spin.value() * DURATION_UNITS[self.unit.currentText()], 6)
        return int(seconds) if seconds.is_integer() else seconds

    def set_value(self, value: Any) -> None:
        seconds = float(value)
        unit = next(name for name, length in DURATION_UNITS.items()
                    if (seconds >= length or length == 1) and abs(round(seconds / length, 2) * length - seconds) < 1e-6)
        self.unit.setCurrentText(unit)
        self.spin.setValue(seconds / DURATION_UNITS[unit])


class ChoiceField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, choices: Sequence[str]) -> None:
        combo = QComboBox(parent)
        combo.addItems(list(choices))
        super().__init__(key, combo, help_text)
        self.combo = combo
        self.combo.currentTextChanged.connect(self.changed)

    def value(self) -> Any:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentText(str(value))


class BoolField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str) -> None:
        check = QCheckBox(parent)
        super().__init__(key, check, help_text)
        self.check = check
        self.check.toggled.connect(self.changed)

    def value(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class ListField(Field):
    """A list of strings: double-click an item to edit it; Add and Remove beside the list."""

    def __init__(self, key: str, parent: QWidget, help_text: str) -> None:
        box = QWidget(parent)
        super().__init__(key, box, help_text)
        self.items = QListWidget(box)
        self.items.setMaximumHeight(90)
        self.add_button = QPushButton("Add", box)
        self.remove_button = QPushButton("Remove", box)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.items, 1)
        layout.addLayout(buttons)
        self.outlined = self.items
        self.items.itemChanged.connect(self.changed)
        self.items.model().rowsRemoved.connect(self.changed)
        self.add_button.clicked.connect(self.add_item)
        self.remove_button.clicked.connect(self.remove_current)

    def value(self) -> Any:
        return [self.items.item(row).text() for row in range(self.items.count())]

    def set_value(self, value: Any) -> None:
        self.items.clear()
        for text in value:
            self._append(str(text))

    def add_item(self, text: str = "") -> None:
        item = self._append(text if isinstance(text, str) else "")
        self.items.setCurrentItem(item)
        self.items.editItem(item)
        self.changed.emit()

    def remove_current(self) -> None:
        row = self.items.currentRow()
        if row >= 0:
            self.items.takeItem(row)

    def _append(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.items.addItem(item)
        return item
