"""Adding PRD files by dropping them on the window: a group is asked for names without one, refused files say why."""

from tests.gui.file_drop import drop


def test_a_dropped_file_without_a_group_asks_for_one_and_refused_files_say_why(qtbot, window, tmp_path):
    (tmp_path / "hello.md").write_text('@fake text "hello"\n')
    (tmp_path / "02-empty.md").write_text("   \n")
    drop(window, [tmp_path / "hello.md", tmp_path / "02-empty.md"])
    flow = window.add_flow
    qtbot.waitUntil(lambda: flow.group_dialog is not None, timeout=5000)
    assert flow.group_dialog.group.value() == 99
    flow.group_dialog.group.setValue(7)
    flow.group_dialog.accept()
    qtbot.waitUntil(lambda: flow.refused_box is not None, timeout=5000)
    assert "the body is empty" in flow.refused_box.informativeText()
    assert (window.home.prds / "07-hello.md").exists()
    assert not (window.home.prds / "02-empty.md").exists()
    flow.refused_box.accept()
