"""What the window and the tray show of verified outcomes and the needs_review status
(docs/BEHAVIOUR.md sections 12 and 13)."""

import json
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.core import queue_json
from app.core.outcome import OutcomeKind
from app.core.queue import LastRun, QueueState, Status
from app.core.verify import VerifyCommand, result_of
from app.engine.api import Snapshot
from app.gui.queue_model import SLUG_ROLE, Column, QueueModel
from app.gui.transcript import TranscriptFollower, transcript_sources
from app.gui.transcript_model import RowKind, TranscriptModel
from app.gui.tray import Tray
from app.gui.user_actions import applicable_actions
from app.gui.widgets.queue_panel import QueuePanel
from app.paths import Home
from tests.support import make_home, write_prd
from tests.unit.core.factories import T0, job, jobs

from .test_tray import main_window, menu_texts, own_bridge, start, trigger

REVIEW = replace(job("01-a", Status.NEEDS_REVIEW), reason="finished without changing anything")


def status_cell(model, slug):
    return model.index(model.row_of(slug), Column.STATUS)


def test_a_needs_review_job_has_its_own_colour_and_words(qtbot):
    model = QueueModel()
    state = QueueState(jobs=jobs(REVIEW, job("02-b", Status.FAILED), job("03-c", Status.COMPLETED)))
    model.apply(Snapshot(state), list(state.jobs))
    cell = status_cell(model, "01-a")
    assert cell.data() == "needs review"
    colour = cell.data(Qt.ItemDataRole.DecorationRole).pixmap(16, 16).toImage().pixelColor(8, 8)
    others = {status_cell(model, slug).data(Qt.ItemDataRole.DecorationRole).pixmap(16, 16).toImage()
              .pixelColor(8, 8).name() for slug in ("02-b", "03-c")}
    assert colour.alpha() == 255 and colour.name() not in others and colour != QColor("black")


def test_the_status_filter_has_a_needs_review_entry_with_its_count(qtbot):
    model = QueueModel()
    state = QueueState(jobs=jobs(REVIEW, job("02-b"), job("03-c", Status.RUNNING)))
    model.apply(Snapshot(state), list(state.jobs))
    panel = QueuePanel(model)
    qtbot.addWidget(panel)
    panel.show()
    texts = [panel.status_filter.itemText(i) for i in range(panel.status_filter.count())]
    assert "Needs review (1)" in texts
    panel.status_filter.setCurrentIndex(texts.index("Needs review (1)"))
    assert [panel.proxy.index(row, Column.TITLE).data() for row in range(panel.proxy.rowCount())] == ["01-a"]


def test_the_tray_counts_the_jobs_that_need_review(qtbot, tmp_path):
    home, environ, project = make_home(tmp_path)
    write_prd(home, "01-a.md", "Do it.\n")
    saved = replace(REVIEW, cwd=str(project))
    home.queue.write_text(json.dumps(queue_json.state_to_json(QueueState(jobs=jobs(saved)))))
    with own_bridge(qtbot, home, environ) as bridge:
        window = main_window(qtbot, bridge)
        tray = Tray(bridge, window, notify=lambda *_: None)
        start(qtbot, bridge)
        qtbot.waitUntil(lambda: "1 needs review" in tray.tooltip(), timeout=15000)
        assert "1 needs review" in menu_texts(tray)
        trigger(tray, "1 needs review")
        assert window.queue_panel.view.currentIndex().data(SLUG_ROLE) == "01-a"


def test_the_verify_log_is_a_source_of_the_detail_pane(qtbot, tmp_path):
    home = Home(tmp_path / "home")
    log = home.run_files("r1", "01-a").verify_log
    log.parent.mkdir(parents=True)
    log.write_text("$ make test\n3 passed\n[exited 0 after 1.2 s]\n")
    verify = result_of([VerifyCommand("make test", 0, 1200)], str(log))
    last = LastRun("r1", OutcomeKind.COMPLETED, 0, T0, 1000, None, 1, "result: success")
    done = replace(job("01-a", Status.COMPLETED), last=last, verify=verify)
    sources = transcript_sources(home, done)
    assert [source.label for source in sources] == ["Run r1 (completed)", "Verify (verify passed (1 command))"]
    model = TranscriptModel()
    follower = TranscriptFollower(model)
    follower.follow(sources[1].path, sources[1].live)
    qtbot.waitUntil(lambda: len(model.rows()) == 3, timeout=3000)
    assert [(row.kind, row.text) for row in model.rows()][:2] == [(RowKind.TOOL_CALL, "$ make test"),
                                                                 (RowKind.TEXT, "3 passed")]
    follower.stop()
    assert transcript_sources(home, replace(done, verify=None))[1:] == []


def test_a_job_that_needs_review_can_be_re_run_from_the_window():
    assert applicable_actions(REVIEW, has_log=True) == {"rerun", "reset", "accept", "merge", "discard", "open_log",
                                                        "open_prd", "reveal", "archive"}
