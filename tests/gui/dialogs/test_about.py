"""The About box: Overnight's home, the agent's version against the versions it was tested with, and Qt's."""

import PySide6
from PySide6.QtCore import qVersion

from app.gui.dialogs.about import AboutDialog


def test_about_shows_the_agent_version_against_the_tested_range(qtbot, idle_window, tmp_path):
    agent = tmp_path / "claude"
    agent.write_text('#!/bin/sh\necho "2.1.999 (Claude Code)"\n')
    agent.chmod(0o755)
    dialog = AboutDialog(idle_window.home, str(agent), idle_window)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: "2.1.999" in dialog.informativeText(), timeout=10000)
    assert "newer than tested (2.1.197–" in dialog.informativeText()
    assert str(idle_window.home.root) in dialog.informativeText()
    assert f"Qt: {qVersion()} (PySide6 {PySide6.__version__})" in dialog.informativeText()
    missing = AboutDialog(idle_window.home, "no-such-claude", idle_window)
    qtbot.addWidget(missing)
    qtbot.waitUntil(lambda: "is not found" in missing.informativeText(), timeout=10000)
    assert missing.informativeText().count("⚠") == 1
    assert "npm install -g @anthropic-ai/claude-code" in missing.informativeText()
