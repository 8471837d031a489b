"""A new PRD from a template: title, group, folder, estimate and body, written as prds/NN-name.md
through the same validation as any added file."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.config import Config
from app.core.prd import DEFAULT_GROUP
from app.engine.api import Added, Refused, add_prds
from app.gui.desktop import in_background
from app.gui.formatting import ERROR_COLOR
from app.paths import Home

TEMPLATE = """\
## Goal

What should be true when the agent is done?

## Context

Where to look: files, commands, constraints.

## Steps

1. …

## Acceptance

- The tests pass.
"""


def name_from_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:60]


def prd_text(title: str, cwd: str, estimate_minutes: int, body: str) -> str:
    frontmatter: dict[str, Any] = {"title": title}
    if cwd:
        frontmatter["cwd"] = cwd
    if estimate_minutes:
        frontmatter["estimateMinutes"] = estimate_minutes
    return f"---\n{yaml.safe_dump(frontmatter, allow_unicode=True, sort_keys=False)}---\n{body}"


def write_new_prd(home: Home, config: Config, name: str, group: int, text: str) -> Added | Refused:
    """Blocking: validated and copied in by `add_prds`, exactly like a dropped file."""
    with tempfile.TemporaryDirectory(prefix="overnight-new-") as folder:
        source = Path(folder) / f"{name}.md"
        source.write_text(text, encoding="utf-8")
        result = add_prds(home, config, [source], group=group)[0]
    if isinstance(result, Refused):
        return Refused(result.source, result.reason.replace(str(source), f"{name}.md"))
    return result


class NewPrdDialog(QDialog):
    created = Signal(object)  # Added

    def __init__(self, home: Home, config: Callable[[], Config], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New PRD")
        self.home = home
        self._config = config
        self._name_edited = False
        self._init_fields()
        self._init_layout()
        self._connect_signals()

    def _init_fields(self) -> None:
        self.title_edit = QLineEdit(self)
        self.title_edit.setPlaceholderText("Add login")
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("add-login")
        self.group = QSpinBox(self)
        self.group.setRange(0, 999)
        self.group.setValue(DEFAULT_GROUP)
        self.group.setToolTip("lower groups run first; the file is named NN-name.md")
        self.cwd_edit = QLineEdit(self)
        self.cwd_edit.setPlaceholderText(self._config().resolved_default_cwd())
        self.browse = QPushButton("Browse…", self)
        self.estimate = QSpinBox(self)
        self.estimate.setRange(0, 10_000)
        self.estimate.setSuffix(" min")
        self.estimate.setSpecialValueText("no estimate")
        self.body = QPlainTextEdit(self)
        self.body.setPlainText(TEMPLATE)
        self.error = QLabel(self)
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.create_button = self.buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)

    def _init_layout(self) -> None:
        cwd_row = QHBoxLayout()
        cwd_row.addWidget(self.cwd_edit, 1)
        cwd_row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Title:", self.title_edit)
        form.addRow("File name:", self.name_edit)
        form.addRow("Group:", self.group)
        form.addRow("Folder:", cwd_row)
        form.addRow("Estimate:", self.estimate)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Task for the agent (markdown):", self))
        layout.addWidget(self.body, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(640, 560)

    def _connect_signals(self) -> None:
        self.title_edit.textEdited.connect(self._title_edited)
        self.name_edit.textEdited.connect(self._name_typed)
        self.browse.clicked.connect(self._browse)
        self.buttons.accepted.connect(self.create_prd)
        self.buttons.rejected.connect(self.reject)

    def _title_edited(self, title: str) -> None:
        if not self._name_edited:
            self.name_edit.setText(name_from_title(title))

    def _name_typed(self, _name: str) -> None:
        self._name_edited = True

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder the agent works in", self.cwd_edit.text())
        if folder:
            self.cwd_edit.setText(folder)

    def create_prd(self) -> None:
        title = self.title_edit.text().strip()
        name = self.name_edit.text().strip().removesuffix(".md") or name_from_title(title)
        if not title or not name:
            self.error.setText("Give the PRD a title.")
            return
        text = prd_text(title, self.cwd_edit.text().strip(), self.estimate.value(), self.body.toPlainText())
        home, config, group = self.home, self._config(), self.group.value()
        self.create_button.setEnabled(False)
        self.error.setText("")
        in_background(lambda: write_new_prd(home, config, name, group, text), self._written)

    def _written(self, result: Added | Refused | None, error: BaseException | None) -> None:
        self.create_button.setEnabled(True)
        if isinstance(result, Added):
            self.created.emit(result)
            self.accept()
        elif isinstance(result, Refused):
            self.error.setText(result.reason)
        else:
            self.error.setText(f"The PRD could not be written: {error}")
