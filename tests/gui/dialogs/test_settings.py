"""The settings dialog: engine rules shown at the field, nothing saved until valid, a valid change saved."""

from app.config import ALL_KEYS, load_config
from app.gui.dialogs import settings
from app.gui.dialogs.settings import SettingsDialog


def open_dialog(qtbot, home):
    loaded = load_config(home.config)
    dialog = SettingsDialog(home.config, loaded.config)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, loaded.config


def test_every_setting_has_a_field_filled_with_the_current_value(qtbot, gui_home):
    home, _environ, project = gui_home
    dialog, config = open_dialog(qtbot, home)
    assert set(dialog.fields) == set(ALL_KEYS)
    assert dialog.fields["default_cwd"].value() == str(project)
    assert dialog.fields["agent.command"].value() == config.agent.command
    assert dialog.fields["watchdog.kill_after"].value() == 2
    assert dialog.save_button.isEnabled()


def test_a_bad_value_is_shown_at_its_field_and_nothing_is_written(qtbot, gui_home, monkeypatch):
    home = gui_home[0]
    before = home.config.read_bytes()
    dialog, _config = open_dialog(qtbot, home)
    cap = dialog.fields["concurrency_cap"]
    cap.spin.setValue(40)
    assert cap.error.isVisible()
    assert cap.error.text() == "concurrency_cap is 40; allowed: an integer from 1 to 32"
    assert "border" in cap.editor.styleSheet()
    assert not dialog.save_button.isEnabled()
    dialog.fields["usage.url"].line.setText("ftp://example.com")
    assert "an http:// or https:// URL" in dialog.fields["usage.url"].error.text()
    writes = []
    monkeypatch.setattr(settings, "in_background", lambda work, on_done: writes.append(work))
    with qtbot.assertNotEmitted(dialog.saved):
        dialog.save()
    assert writes == []  # no write was begun
    assert home.config.read_bytes() == before
    assert dialog.isVisible()

    cap.spin.setValue(3)
    assert not cap.error.isVisible() and cap.editor.styleSheet() == ""
    assert not dialog.save_button.isEnabled()  # the URL is still bad


def test_a_valid_change_is_saved_and_read_back_by_the_engine_loader(qtbot, gui_home):
    home = gui_home[0]
    dialog, config = open_dialog(qtbot, home)
    dialog.fields["concurrency_cap"].spin.setValue(2)
    dialog.fields["fire_policy"].combo.setCurrentText("manual")
    extra = dialog.fields["agent.extra_args"]
    extra.add_item("--max-turns")
    extra.add_item("200")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    saved = load_config(home.config)
    assert saved.ok
    assert saved.config.concurrency_cap == 2
    assert saved.config.fire_policy == "manual"
    assert saved.config.agent.extra_args == ("--max-turns", "200")
    assert saved.config.default_cwd == config.default_cwd
    assert not dialog.isVisible()


def test_an_empty_list_item_is_refused_where_the_rule_says_so(qtbot, gui_home):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    env_remove = dialog.fields["agent.env_remove"]
    env_remove.add_item("A=B")
    assert "environment variable names" in env_remove.error.text()
    env_remove.remove_current()
    assert not env_remove.error.isVisible()
    assert dialog.save_button.isEnabled()
