"""The first-run checklist: each check ✓ or ✗ with its fix, Choose claude… saving agent.command,
Check again looking again; gone once everything is in place."""

import yaml
from PySide6.QtWidgets import QFileDialog

from app.core.queue import PauseReason
from app.gui.bridge import EngineBridge
from app.gui.main_window import MainWindow
from app.gui.widgets.setup_banner import SetupBanner
from tests.support import FAKE_AGENT, make_home


def banner_over(qtbot, tmp_path, agent_command):
    home, environ, _project = make_home(tmp_path, {"agent": {"command": agent_command}})
    banner = SetupBanner(home, environ)
    qtbot.addWidget(banner)
    banner.show()
    return banner, home, environ


def checked(qtbot, banner):
    banner.check()
    qtbot.waitUntil(lambda: not banner.checking, timeout=20000)


def test_a_missing_agent_shows_a_cross_and_the_fix_and_so_does_a_user_who_is_not_signed_in(qtbot, tmp_path):
    banner, _home, _environ = banner_over(qtbot, tmp_path, "no-such-claude")
    checked(qtbot, banner)
    assert banner.isVisible()
    text = banner.rows.text()
    assert "✗ agent: 'no-such-claude' is not found" in text
    assert "npm install -g @anthropic-ai/claude-code" in text
    assert "✗ credentials: none found" in text and "run `claude` and sign in" in text


def test_choose_claude_saves_agent_command_keeping_the_other_settings_and_checks_again(qtbot, tmp_path, monkeypatch):
    banner, home, _environ = banner_over(qtbot, tmp_path, "no-such-claude")
    checked(qtbot, banner)
    before = yaml.safe_load(home.config.read_text())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(FAKE_AGENT), ""))
    with qtbot.waitSignal(banner.message, timeout=10000) as said:
        banner.choose_button.click()
    assert said.args == [f"agent.command is now {FAKE_AGENT}", False]
    after = yaml.safe_load(home.config.read_text())
    assert after["agent"]["command"] == str(FAKE_AGENT)
    assert after["default_cwd"] == before["default_cwd"]
    assert after["watchdog"]["idle"] == before["watchdog"]["idle"]
    assert "# " in home.config.read_text()  # written with the default file's comments, as Settings writes it
    qtbot.waitUntil(lambda: not banner.checking and "✓ agent: " + str(FAKE_AGENT) in banner.rows.text(),
                    timeout=20000)


def test_choose_claude_leaves_a_config_with_problems_as_it_is_and_says_so(qtbot, tmp_path, monkeypatch):
    banner, home, _environ = banner_over(qtbot, tmp_path, "no-such-claude")
    home.config.write_text("max_concurrent: [broken\n")
    with qtbot.waitSignal(banner.message, timeout=10000) as said:
        banner.use_agent(str(FAKE_AGENT))
    text, is_error = said.args
    assert is_error and "could not be saved" in text and "Fix config.yaml first" in text
    assert home.config.read_text() == "max_concurrent: [broken\n"


def test_check_again_looks_again_and_the_banner_goes_once_everything_passes(qtbot, tmp_path, monkeypatch):
    banner, _home, _environ = banner_over(qtbot, tmp_path, "no-such-claude")
    checked(qtbot, banner)
    assert banner.isVisible()
    answers = iter([[(True, "agent: claude"), (False, "credentials: none found")],
                    [(True, "agent: claude"), (True, "credentials: ok"), (True, "usage meter: 10%")]])
    monkeypatch.setattr("app.gui.widgets.setup_banner.setup_checks", lambda home, environ: next(answers))
    banner.check_button.click()
    qtbot.waitUntil(lambda: not banner.checking, timeout=10000)
    assert banner.isVisible() and "✓ agent: claude" in banner.rows.text()
    assert "✗ credentials: none found" in banner.rows.text()
    banner.check_button.click()
    qtbot.waitUntil(lambda: not banner.checking, timeout=10000)
    assert not banner.isVisible()


def test_the_window_shows_the_checklist_above_the_queue_while_the_engine_waits_for_the_agent(qtbot, tmp_path):
    home, environ, _project = make_home(tmp_path, {"agent": {"command": "no-such-claude"}})
    bridge = EngineBridge(home, environ=environ)
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(bridge.ready, timeout=20000):
        bridge.start()
    try:
        qtbot.waitUntil(lambda: window.setup_banner.isVisible() and "✗ agent" in window.setup_banner.rows.text(),
                        timeout=20000)
        qtbot.waitUntil(lambda: window.pause_banner.isVisible(), timeout=10000)
        assert bridge.state.paused.reason is PauseReason.SETUP
        assert "Claude Code not found" in window.pause_banner.message.text()
        layout = window.centralWidget().layout()
        assert layout.indexOf(window.setup_banner) < layout.indexOf(window.queue_panel.parentWidget())
        assert window.safety_note.isVisible() and "--dangerously-skip-permissions" in window.safety_note.text.text()
    finally:
        with qtbot.waitSignal(bridge.stopped, timeout=30000):
            bridge.stop(stop_jobs=True)
        bridge.wait(10)
