"""A one-line label that never widens its window: text too long for its width gives way to its
short form when it has one ("42 %" for "42 % · resets 19:42"), else ends in "…"; the whole text is
in the tooltip (unless the label is given a tooltip of its own)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

MIN_CHARS = 10  # what a label without a short form still shows when squeezed


class ElidedLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.short_text = ""
        self._tip = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_full_text(self, text: str, tooltip: str = "", short: str = "") -> None:
        """Show `text` on one line, else `short`, else `text` cut to fit; `tooltip` (else the
        whole text when it does not fit) on hover."""
        if (text, tooltip, short) == (self.full_text, self._tip, self.short_text):
            return
        self.full_text, self._tip, self.short_text = text, tooltip, short
        self.updateGeometry()
        self._elide()

    def sizeHint(self) -> QSize:
        return QSize(self._width(self.full_text), self.fontMetrics().height())

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        least = self._width(self.short_text) if self.short_text else metrics.averageCharWidth() * MIN_CHARS
        return QSize(min(self.sizeHint().width(), least), metrics.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _width(self, text: str) -> int:
        return self.fontMetrics().horizontalAdvance(text) + 4

    def _elide(self) -> None:
        width = self.width()
        shown = self.full_text
        if self._width(shown) > width and self.short_text:
            shown = self.short_text
        if self._width(shown) > width:
            shown = self.fontMetrics().elidedText(shown, Qt.TextElideMode.ElideRight, max(width - 4, 0))
        self.setText(shown)
        self.setToolTip(self._tip or (self.full_text if shown != self.full_text else ""))
