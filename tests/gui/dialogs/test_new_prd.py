"""The new PRD dialog, opened from the window: its file name follows the title, and the PRD it writes is queued."""

from app.gui.dialogs.new_prd import NewPrdDialog


def test_a_new_prd_is_written_with_its_group_prefix_and_selected(qtbot, window):
    window.open_new_prd()
    dialog = window.findChild(NewPrdDialog)
    qtbot.keyClicks(dialog.title_edit, "Add login")
    assert dialog.name_edit.text() == "add-login"
    dialog.group.setValue(4)
    dialog.body.setPlainText('@fake text "logged in"\n')
    dialog.create_button.click()
    qtbot.waitUntil(lambda: window.selected_slug == "04-add-login", timeout=5000)
    assert "title: Add login" in (window.home.prds / "04-add-login.md").read_text()
