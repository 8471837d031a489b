"""The icons: the tray icon tells its states apart and carries a count of running agents; the queue's dots
are in their status's colour."""

import pytest
from PySide6.QtGui import QColor

from app.core.queue import Status
from app.gui.formatting import ERROR_COLOR, STATUS_COLORS
from app.gui.icons import ICONS, TrayLook, TrayState, app_icon, badge_text, glyph_icon, status_icon, tray_icon


def image(icon, size=32):
    return icon.pixmap(size, size).toImage()


def test_each_tray_state_looks_different_and_a_running_count_adds_a_badge(qtbot):
    looks = [image(tray_icon(TrayLook(state))) for state in TrayState]
    assert all(not look.isNull() for look in looks)
    assert all(looks[i] != looks[j] for i in range(len(looks)) for j in range(i + 1, len(looks)))
    running = image(tray_icon(TrayLook(TrayState.RUNNING, 3)))
    assert running != image(tray_icon(TrayLook(TrayState.RUNNING)))
    assert running != image(tray_icon(TrayLook(TrayState.RUNNING, 12)))
    assert [badge_text(count) for count in (1, 9, 10, 42)] == ["1", "9", "9+", "9+"]


def test_an_unseen_failure_adds_a_red_badge_to_the_paused_icon(qtbot):
    paused = image(tray_icon(TrayLook(TrayState.PAUSED)))
    failed = image(tray_icon(TrayLook(TrayState.PAUSED, failed=True)))
    assert failed != paused
    assert failed.pixelColor(failed.width() - 4, 8) == QColor(ERROR_COLOR)  # the badge's top-right disc
    assert failed.pixelColor(8, failed.height() - 8) == paused.pixelColor(8, failed.height() - 8)


def test_the_app_icon_is_drawn_at_every_size_a_desktop_asks_for(qtbot):
    icon = app_icon()
    assert {size.width() for size in icon.availableSizes()} >= {16, 32, 64, 256}
    assert image(icon, 256).pixelColor(128, 128).alpha() > 0  # drawn, not an empty square


@pytest.mark.parametrize("status", list(Status))
def test_a_status_dot_is_filled_with_the_status_colour(qtbot, status):
    centre = image(status_icon(status), 16).pixelColor(8, 8)
    assert centre == QColor(STATUS_COLORS[status])


@pytest.mark.parametrize("glyph", sorted(path.stem.removeprefix("tool-") for path in ICONS.glob("tool-*.svg")))
def test_each_toolbar_glyph_is_drawn_in_the_colour_asked_for(qtbot, glyph):
    picture = image(glyph_icon(glyph, QColor("#3366cc")), 24)
    opaque = [picture.pixelColor(x, y) for x in range(24) for y in range(24) if picture.pixelColor(x, y).alpha() > 200]
    assert len(opaque) > 20  # a glyph, not an empty square
    wanted = QColor("#3366cc")
    assert all(max(abs(color.red() - wanted.red()), abs(color.green() - wanted.green()),
                   abs(color.blue() - wanted.blue())) <= 2 for color in opaque)  # 2: premultiplied rounding
