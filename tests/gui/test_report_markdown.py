"""The morning report's Markdown as Qt's Markdown view shows it (docs/BEHAVIOUR.md section 14)."""

import datetime as dt
import json

from PySide6.QtGui import QTextTable
from PySide6.QtWidgets import QTextBrowser

from app.core import report

SINCE = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)
UNTIL = SINCE + dt.timedelta(hours=8)


def test_a_report_renders_as_headings_and_tables_without_markup_showing(qtbot):
    line = json.dumps({"ts": "2026-11-22T02:00:00Z", "event": "run.finished", "kind": "job", "slug": "01-a",
                       "runId": "r1", "status": "failed", "reason": "verify failed: `make` exited 2",
                       "durationMs": 90_000, "costUsd": 1.25, "numTurns": 7, "title": "Add a | b",
                       "verify": [{"cmd": "make", "exitCode": 2}], "resultText": "Tried **hard**."})
    inputs = report.Inputs(report.collect([line], SINCE, UNTIL), report.Lines(), {}, {}, {})
    browser = QTextBrowser()
    qtbot.addWidget(browser)
    browser.setMarkdown(report.to_markdown(report.build(inputs, SINCE, UNTIL)))
    shown = browser.toPlainText()
    assert "Agent time" in shown and "$1.25" in shown and "Add a | b (01-a)" in shown
    assert "|---|" not in shown and "###" not in shown and "**" not in shown
    tables = [frame for frame in browser.document().rootFrame().childFrames() if isinstance(frame, QTextTable)]
    assert tables and tables[0].columns() == 2
