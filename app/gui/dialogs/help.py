"""The Help menu's pages: the PRD format (resources/prd-format.md, shipped with the app) and the
keyboard shortcuts (read from the window's actions, so the list cannot drift from the keys)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.gui.desktop import in_background
from app.paths import resource

PRD_FORMAT = resource("prd-format.md")


def _framed(dialog: QDialog, title: str, content: QWidget) -> None:
    """`content` above a Close button."""
    dialog.setWindowTitle(title)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(content, 1)
    layout.addWidget(buttons)


class PrdFormatDialog(QDialog):
    """The PRD format page rendered as markdown; read off the GUI thread once the dialog exists."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = QTextBrowser(self)
        self.page.setOpenExternalLinks(True)
        self.page.setPlainText("Loading…")
        _framed(self, "PRD format", self.page)
        self.resize(720, 640)
        in_background(lambda: PRD_FORMAT.read_text(encoding="utf-8"), self._read)

    def _read(self, text: str | None, error: BaseException | None) -> None:
        if text is None:
            self.page.setPlainText(f"{PRD_FORMAT} could not be read ({error}); reinstall Overnight to restore it.")
        else:
            self.page.setMarkdown(text)


class ShortcutsDialog(QDialog):
    """A table of (keys, what they do)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        table = self.table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Does"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, does) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(does))
        table.resizeColumnToContents(0)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        _framed(self, "Keyboard shortcuts", table)
        self.resize(520, 380)
