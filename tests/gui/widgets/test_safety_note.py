"""What agents may do, said once per home: dismissed, it stays gone for that home only."""

from app.gui.widgets.safety_note import SafetyNote
from app.paths import Home


def note_for(qtbot, home):
    note = SafetyNote(home)
    qtbot.addWidget(note)
    return note


def test_the_statement_shows_once_per_home_until_dismissed(qtbot, tmp_path):
    first, second = Home(tmp_path / "one"), Home(tmp_path / "two")
    note = note_for(qtbot, first)
    assert not note.isHidden()
    assert "--dangerously-skip-permissions" in note.text.text()
    assert "change any file you can" in note.text.text()
    assert "investigation.auto_run" in note.text.text()
    note.dismiss_button.click()
    assert note.isHidden()
    assert note_for(qtbot, first).isHidden()
    assert not note_for(qtbot, second).isHidden()
