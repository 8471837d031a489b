"""The settings dialog: engine rules shown at the field, paths that must exist checked off the GUI thread,
nothing saved until valid (and Save saying why), durations in minutes and hours, a valid change saved."""

import json
import sys

from PySide6.QtWidgets import QFileDialog, QWidget

from app.config import ALL_KEYS, load_config
from app.gui.dialogs import settings
from app.gui.dialogs.settings import PAGES, SettingsDialog
from tests.support import make_home


def open_dialog(qtbot, home):
    loaded = load_config(home.config)
    dialog = SettingsDialog(home.config, loaded.config)
    qtbot.addWidget(dialog)
    dialog.show()
    checked(qtbot, dialog)
    return dialog, loaded.config


def checked(qtbot, dialog):
    """Wait until the folder and the agent command have been looked at on disk."""
    qtbot.waitUntil(lambda: "checking…" not in dialog.message.text(), timeout=5000)


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


def test_the_billing_tab_says_how_runs_are_billed_as_the_values_change_and_saves_them(qtbot, gui_home):
    home = gui_home[0]
    loaded = load_config(home.config)
    dialog = SettingsDialog(home.config, loaded.config, environ={"ANTHROPIC_API_KEY": "sk-ant-api03-x"})
    qtbot.addWidget(dialog)
    dialog.show()
    checked(qtbot, dialog)
    mode = dialog.billing_mode
    assert mode.text() == "API key in the environment (ANTHROPIC_API_KEY): runs are stopped at once"
    dialog.fields["spend.allow_api_billing"].check.setChecked(True)
    assert mode.text() == "API billing allowed (ANTHROPIC_API_KEY): runs are billed per token, with no daily limit"
    assert dialog.fields["spend.max_usd_per_day"].spin.text() == "No limit"  # 0 reads as what it means
    dialog.fields["spend.max_usd_per_day"].spin.setValue(2.5)
    assert mode.text().endswith("up to $2.50 a day")
    dialog.fields["agent.env_remove"].add_item("ANTHROPIC_API_KEY")
    assert mode.text() == "Subscription: runs use your Claude subscription"
    dialog.fields["agent.resume"].check.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    saved = load_config(home.config).config
    assert (saved.spend.allow_api_billing, saved.spend.max_usd_per_day) == (True, 2.5)
    assert saved.agent.env_remove == ("ANTHROPIC_API_KEY",) and saved.agent.resume is False


def test_without_an_api_key_in_the_environment_runs_use_the_subscription(qtbot, gui_home):
    home = gui_home[0]
    dialog = SettingsDialog(home.config, load_config(home.config).config, environ={"PATH": "/bin"})
    qtbot.addWidget(dialog)
    assert dialog.billing_mode.text() == "Subscription: runs use your Claude subscription"
    assert dialog.tabs.tabText(PAGES.index("Billing")) == "Billing"


def test_an_empty_list_item_is_refused_where_the_rule_says_so(qtbot, gui_home):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    env_remove = dialog.fields["agent.env_remove"]
    env_remove.add_item("A=B")
    assert "environment variable names" in env_remove.error.text()
    env_remove.remove_current()
    assert not env_remove.error.isVisible()
    assert dialog.save_button.isEnabled()


def test_a_default_folder_that_does_not_exist_is_refused_before_save_with_the_reason(qtbot, gui_home, tmp_path):
    home, _environ, project = gui_home
    dialog, _config = open_dialog(qtbot, home)
    folder = dialog.fields["default_cwd"]
    missing = tmp_path / "no-such-project"
    folder.line.setText(str(missing))
    qtbot.waitUntil(lambda: folder.error.isVisible(), timeout=5000)
    assert folder.error.text() == f"{missing} does not exist — create it, or choose an existing folder with Browse"
    assert not dialog.save_button.isEnabled()
    assert f"General → Default folder: {missing} does not exist" in dialog.save_button.toolTip()
    assert "Save is off until these are fixed:" in dialog.message.text()
    assert not dialog.tabs.tabIcon(PAGES.index("General")).isNull()

    (project / "README.md").write_text("a file\n")
    folder.line.setText(str(project / "README.md"))
    qtbot.waitUntil(lambda: "is a file, not a folder" in folder.error.text(), timeout=5000)

    folder.line.setText(str(missing))
    qtbot.waitUntil(lambda: "does not exist" in folder.error.text(), timeout=5000)
    terminal = QWidget()  # the user goes to another window, creates the folder, and comes back
    qtbot.addWidget(terminal)
    terminal.show()
    terminal.activateWindow()
    qtbot.waitUntil(lambda: not dialog.isActiveWindow(), timeout=5000)
    missing.mkdir()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=5000)
    assert not folder.error.isVisible() and dialog.save_button.toolTip() == ""
    assert dialog.tabs.tabIcon(PAGES.index("General")).isNull()


def test_an_agent_command_that_does_not_exist_brings_its_tab_forward_and_a_link_leads_back(qtbot, tmp_path):
    missing = tmp_path / "bin" / "claude"
    home, _environ, _project = make_home(tmp_path, {"agent": {"command": str(missing)}})
    loaded = load_config(home.config)
    dialog = SettingsDialog(home.config, loaded.config)
    qtbot.addWidget(dialog)
    dialog.show()
    command = dialog.fields["agent.command"]
    qtbot.waitUntil(lambda: command.error.isVisible(), timeout=5000)
    assert command.error.text() == f"{missing} does not exist — choose the claude program with Browse"
    assert dialog.tabs.currentIndex() == PAGES.index("Agent")
    assert not dialog.save_button.isEnabled()

    dialog.tabs.setCurrentIndex(PAGES.index("General"))
    dialog.message.linkActivated.emit("agent.command")
    assert dialog.tabs.currentIndex() == PAGES.index("Agent")

    command.line.setText("surely-no-such-program-here")
    qtbot.waitUntil(lambda: "is not a program on PATH" in command.error.text(), timeout=5000)
    command.line.setText(sys.executable)
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=5000)


def test_test_runs_the_agent_with_version_and_shows_its_answer_or_the_error(qtbot, gui_home, tmp_path):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "Claude Code 2.1.197" in dialog.test_result.text(), timeout=15000)
    assert dialog.test_button.isEnabled()

    silent = tmp_path / "silent-claude"
    silent.write_text("#!/bin/sh\necho 'no such option' >&2\nexit 2\n")
    silent.chmod(0o755)
    dialog.fields["agent.command"].line.setText(str(silent))
    assert dialog.test_result.text() == ""  # an answer about the previous command is gone
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "did not answer" in dialog.test_result.text(), timeout=15000)
    assert "color" in dialog.test_result.styleSheet()


def test_browse_puts_the_chosen_folder_in_the_field(qtbot, gui_home, tmp_path):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    chosen = tmp_path / "elsewhere"
    chosen.mkdir()
    folder = dialog.fields["default_cwd"]
    folder.browse_button.click()
    chooser = folder.chooser
    assert isinstance(chooser, QFileDialog) and chooser.isVisible()
    assert chooser.fileMode() is QFileDialog.FileMode.Directory
    chooser.selectFile(str(chosen))
    chooser.accept()
    assert folder.value() == str(chosen)


def test_durations_are_shown_in_minutes_and_hours_and_saved_in_seconds(qtbot, gui_home):
    home = gui_home[0]
    dialog, _config = open_dialog(qtbot, home)
    shown = {key: (dialog.fields[key].spin.value(), dialog.fields[key].unit.currentText())
             for key in ("watchdog.idle", "watchdog.max_duration", "watchdog.kill_after", "investigation.max_duration")}
    assert shown == {"watchdog.idle": (1, "min"), "watchdog.max_duration": (5, "min"),
                     "watchdog.kill_after": (2, "s"), "investigation.max_duration": (30, "min")}
    assert dialog.fields["watchdog.idle"].spin.text() == "1"  # no trailing zeros
    longest = dialog.fields["watchdog.max_duration"]
    longest.spin.setValue(3)
    longest.unit.setCurrentText("h")
    poll = dialog.fields["usage.poll_seconds"]
    poll.spin.setValue(1.5)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    saved = load_config(home.config).config
    assert saved.watchdog.max_duration == 3 * 3600
    assert saved.usage.poll_seconds == 90
    assert saved.watchdog.idle == 60


def test_the_workspace_tab_sets_where_jobs_run_and_refuses_a_branch_name_git_would_refuse(qtbot, gui_home):
    home = gui_home[0]
    dialog, _config = open_dialog(qtbot, home)
    assert "Workspace" in [dialog.tabs.tabText(index) for index in range(dialog.tabs.count())]
    branch = dialog.fields["workspace.branch"]
    assert branch.value() == "overnight/queue"
    branch.line.setText("night queue")
    assert "a branch name git accepts" in branch.error.text()
    assert not dialog.save_button.isEnabled()
    branch.line.setText("overnight/night")
    dialog.fields["workspace.mode"].combo.setCurrentText("worktree")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    saved = load_config(home.config).config.workspace
    assert (saved.mode, saved.branch) == ("worktree", "overnight/night")


def test_the_workspace_tab_sets_the_verify_commands_and_their_timeout(qtbot, gui_home):
    home = gui_home[0]
    dialog, _config = open_dialog(qtbot, home)
    assert dialog.tabs.tabText(dialog.labels["workspace.verify"][0]) == "Workspace"
    verify = dialog.fields["workspace.verify"]
    verify.add_item("   ")
    assert "shell commands" in verify.error.text() and not dialog.save_button.isEnabled()
    verify.remove_current()
    verify.add_item("make test")
    dialog.fields["workspace.verify_timeout"].set_value(120)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    saved = load_config(home.config).config
    assert saved.workspace.verify == ("make test",) and saved.workspace.verify_timeout == 120


def test_the_notifications_tab_sends_a_test_notification_and_shows_the_servers_answer(qtbot, gui_home, notify_server):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    assert dialog.fields["notify.url"].value() == ""  # off until a URL is set
    dialog.show_field("notify.url")
    assert PAGES[dialog.tabs.currentIndex()] == "Notifications"
    dialog.fields["notify.url"].line.setText(notify_server.url)
    dialog.fields["notify.format"].set_value("json")
    dialog.notify_button.click()
    qtbot.waitUntil(lambda: dialog.notify_result.text() == "the server answered 200 OK", timeout=15000)
    assert dialog.notify_button.isEnabled()
    assert json.loads(notify_server.taken()[0]["body"])["title"] == "Overnight: test notification"

    notify_server.answers = [401]
    dialog.notify_button.click()
    qtbot.waitUntil(lambda: dialog.notify_result.text() == "the server answered 401 Unauthorized", timeout=15000)
    assert "color" in dialog.notify_result.styleSheet()


def test_a_notify_url_that_is_not_http_is_refused_at_its_field(qtbot, gui_home):
    dialog, _config = open_dialog(qtbot, gui_home[0])
    dialog.fields["notify.url"].line.setText("ftp://example.com/topic")
    assert not dialog.save_button.isEnabled()
    assert "http:// or https://" in dialog.fields["notify.url"].error.text()
    dialog.notify_button.click()
    assert "http:// or https://" in dialog.notify_result.text()
