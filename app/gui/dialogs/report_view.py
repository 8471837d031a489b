"""Reports (docs/BEHAVIOUR.md section 14): the latest report rendered, the earlier ones listed newest
first, each opened rendered on a click. Files are listed and read off the GUI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QListWidget, QListWidgetItem, QSplitter, QTextBrowser, QWidget

from app.core.report import time_of
from app.gui.desktop import in_background
from app.paths import Home

NO_REPORTS = "No reports yet. Overnight writes one each time the queue has run everything it could."


def list_reports(folder: Path) -> list[Path]:
    """The report files in `folder` (named as app.core.report names them), newest first: by the
    time in the name, then `-2` after the plain name of the same minute; none when it does not exist."""
    try:
        found = [(when, path) for path in folder.iterdir()
                 if (when := time_of(path.name)) is not None and path.is_file()]
    except FileNotFoundError:
        return []
    found.sort(key=lambda item: (item[0], len(item[1].name), item[1].name), reverse=True)
    return [path for _when, path in found]


def report_title(path: Path) -> str:
    """"2026-12-03 15:05" for 2026-12-03-1405.md (the name is UTC; the title the computer's time)."""
    when = time_of(path.name)
    return f"{when.astimezone():%Y-%m-%d %H:%M}" if when is not None else path.stem


class ReportView(QDialog):
    """Open it with `open()`; the list and the latest report fill in once the folder is read."""

    def __init__(self, home: Home, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reports")
        self.resize(960, 700)
        self._folder = home.reports
        self.reports = QListWidget(self)
        self.reports.setObjectName("reportList")
        self.page = QTextBrowser(self)
        self.page.setOpenExternalLinks(True)
        self.page.setPlainText("Reading the reports…")
        self.shown: Path | None = None  # the report on the page
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.reports)
        splitter.addWidget(self.page)
        splitter.setSizes([220, 740])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self.reports.currentItemChanged.connect(self._chosen)
        self.refresh()

    def refresh(self) -> None:
        """List the reports again and show the newest."""
        folder = self._folder
        in_background(lambda: list_reports(folder), self._listed)

    def _listed(self, found: list[Path] | None, error: BaseException | None) -> None:
        self.reports.clear()
        if error is not None or found is None:
            self.page.setPlainText(f"The reports in {self._folder} could not be listed: {error}")
            return
        if not found:
            self.page.setPlainText(NO_REPORTS)
            return
        for path in found:
            item = QListWidgetItem(report_title(path), self.reports)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
        self.reports.setCurrentRow(0)

    def _chosen(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        path = Path(item.data(Qt.ItemDataRole.UserRole))
        in_background(lambda: (path, path.read_text(encoding="utf-8", errors="replace")), self._read)

    def _read(self, result: tuple[Path, str] | None, error: BaseException | None) -> None:
        current = self.reports.currentItem()
        if current is None:
            return
        if error is not None or result is None:
            self.page.setPlainText(f"{current.data(Qt.ItemDataRole.UserRole)} could not be read: {error}")
            return
        path, text = result
        if str(path) != current.data(Qt.ItemDataRole.UserRole):
            return  # another report was chosen while this one was read
        self.shown = path
        self.page.setMarkdown(text)
