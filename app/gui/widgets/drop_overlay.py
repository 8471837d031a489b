"""The highlight over the window while files are dragged over it: "drop to add" in the palette's
highlight colour, gone when the drag leaves or drops."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class DropOverlay(QLabel):
    """Covers its parent while shown; it takes no mouse or drag events, so the drop reaches the window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Drop to add these PRDs to the queue", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.setFont(font)
        self.setStyleSheet("QLabel { border: 3px dashed palette(highlight); border-radius: 8px;"
                           " color: palette(window-text); background: rgba(48, 140, 198, 90); }")
        self.hide()

    def cover(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect().adjusted(4, 4, -4, -4))
        self.raise_()
        self.show()
