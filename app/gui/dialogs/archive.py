"""The question asked before archiving a PRD: the file moves to prds-archive/, and the job leaves the queue."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.paths import Home


class ArchiveQuestion(QMessageBox):
    """Open it with `open()`; on `finished`, `confirmed()` says whether to archive `slug`."""

    def __init__(self, home: Home, slug: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slug = slug
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Archive PRD")
        self.setText(f"Archive {slug}?")
        self.setInformativeText(f"{home.prds / (slug + '.md')} moves into {home.archive}/ and the job leaves the "
                                "queue. Nothing is deleted: move the file back to queue it again.")
        self.archive_button = self.addButton("Archive", QMessageBox.ButtonRole.AcceptRole)
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.archive_button)
        self.setEscapeButton(cancel)

    def confirmed(self) -> bool:
        return self.clickedButton() is self.archive_button
