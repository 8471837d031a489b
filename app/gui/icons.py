"""Icons: the app icon and the tray icon for a state with a count badge and a failure badge, drawn from
resources/icons, the dot in a status's colour that the queue shows beside each status, and the
toolbar's glyphs painted in the palette's text colour (a black icon is unreadable on a dark palette)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.core.queue import Status
from app.gui.formatting import ERROR_COLOR, STATUS_COLORS
from app.paths import resource

ICONS = resource("icons")
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TOOLBAR_SIZES = (16, 22, 24, 32, 48)
APP_SIZES = (16, 24, 32, 48, 64, 128, 256)
BADGE_FILL = QColor("#1d2636")
BADGE_RING = QColor("#ffffff")


class TrayState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TrayLook:
    """What the tray icon shows: the queue's state, how many agents run, and whether a job failed
    that the user has not seen (a badge, so the failure does not hide a pause)."""

    state: TrayState
    running: int = 0
    failed: bool = False


def app_icon() -> QIcon:
    icon = QIcon()
    for size in APP_SIZES:
        icon.addPixmap(render_svg("overnight.svg", size))
    return icon


def tray_icon(look: TrayLook) -> QIcon:
    icon = QIcon()
    for size in TRAY_SIZES:
        pixmap = render_svg(f"tray-{look.state}.svg", size)
        if look.running > 0:
            paint_badge(pixmap, badge_text(look.running))
        if look.failed:
            paint_failure_badge(pixmap)
        icon.addPixmap(pixmap)
    return icon


def badge_text(count: int) -> str:
    return str(count) if count < 10 else "9+"


def render_svg(name: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(_svg_bytes(name)))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def paint_badge(pixmap: QPixmap, text: str) -> None:
    """A dark disc with a white ring and number in the bottom-right corner, readable on any panel."""
    size = pixmap.width()
    diameter = size * (0.56 if len(text) == 1 else 0.66)
    disc = QRectF(size - diameter, size - diameter, diameter, diameter)
    _paint_disc(pixmap, disc, BADGE_FILL, text, diameter * (0.68 if len(text) == 1 else 0.52))


def paint_failure_badge(pixmap: QPixmap) -> None:
    """A red disc with a white ring and "!" in the top-right corner: a job failed."""
    size = pixmap.width()
    diameter = size * 0.5
    _paint_disc(pixmap, QRectF(size - diameter, 0, diameter, diameter), QColor(ERROR_COLOR), "!", diameter * 0.72)


def _paint_disc(pixmap: QPixmap, disc: QRectF, fill: QColor, text: str, text_size: float) -> None:
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    ring = max(1.0, pixmap.width() / 24)
    painter.setPen(QPen(BADGE_RING, ring))
    painter.setBrush(fill)
    painter.drawEllipse(disc.adjusted(ring / 2, ring / 2, -ring / 2, -ring / 2))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(7, round(text_size)))
    painter.setFont(font)
    painter.setPen(BADGE_RING)
    painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()


def status_icon(status: Status) -> QIcon:
    """A dot in the status colour."""
    color = QColor(STATUS_COLORS[status])
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(color.darker(140))
    painter.setBrush(color)
    painter.drawEllipse(2, 2, 12, 12)
    painter.end()
    return QIcon(pixmap)


def glyph_icon(name: str, color: QColor) -> QIcon:
    """A toolbar glyph, resources/icons/tool-`name`.svg (drawn in black), painted in `color`."""
    icon = QIcon()
    for size in TOOLBAR_SIZES:
        pixmap = render_svg(f"tool-{name}.svg", size)
        painter = QPainter(pixmap)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(pixmap.rect(), color)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


@cache
def _svg_bytes(name: str) -> bytes:
    return (ICONS / name).read_bytes()
