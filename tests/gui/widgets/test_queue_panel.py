"""The queue panel: filters narrow the table and count their jobs, a job chosen elsewhere is shown even
when filtered out, a right-click makes its row the current one before the menu opens, and an empty
queue says how to add a PRD."""

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint

from app.core.queue import QueueState, Status
from app.engine.api import Snapshot
from app.gui.queue_model import SLUG_ROLE, STATUS_FILTERS, Column, QueueModel, StatusFilter
from app.gui.widgets.queue_panel import QueuePanel
from tests.unit.core.factories import job, jobs


@pytest.fixture
def panel(qtbot):
    model = QueueModel()
    state = QueueState(jobs=jobs(job("01-a"), replace(job("02-b", Status.FAILED), reason="exited with code 3"),
                                 job("03-c", Status.RUNNING)))
    model.apply(Snapshot(state), list(state.jobs))
    panel = QueuePanel(model)
    qtbot.addWidget(panel)
    panel.resize(800, 400)
    panel.show()
    return panel


def choose(panel, name):
    panel.status_filter.setCurrentIndex(panel.status_filter.findData(name))


def filter_texts(panel):
    return [panel.status_filter.itemText(index) for index in range(panel.status_filter.count())]


def shown(panel):
    return [panel.proxy.index(row, Column.TITLE).data() for row in range(panel.proxy.rowCount())]


def test_the_text_and_status_filters_narrow_the_table(panel):
    assert shown(panel) == ["01-a", "02-b", "03-c"]
    panel.filter_edit.setText("code 3")
    assert shown(panel) == ["02-b"]
    panel.filter_edit.clear()
    choose(panel, StatusFilter.ACTIVE)
    assert shown(panel) == ["01-a", "03-c"]
    assert [text.rsplit(" (", 1)[0] for text in filter_texts(panel)] == list(STATUS_FILTERS)


def test_selecting_a_filtered_out_job_clears_the_filters_and_makes_it_current(qtbot, panel):
    panel.filter_edit.setText("01-a")
    choose(panel, StatusFilter.PROBLEMS)
    with qtbot.waitSignal(panel.currentSlugChanged, check_params_cb=lambda slug: slug == "03-c"):
        panel.select_slug("03-c")
    assert panel.filter_edit.text() == "" and panel.status_filter.currentIndex() == 0
    assert panel.view.currentIndex().data(SLUG_ROLE) == "03-c"
    with qtbot.assertNotEmitted(panel.currentSlugChanged):
        panel.select_slug("99-not-in-the-queue")


def test_a_right_click_on_a_row_makes_it_current_and_asks_for_the_menu(qtbot, panel):
    view = panel.view
    row = panel.proxy.mapFromSource(panel.model.index(panel.model.row_of("02-b"), 0))
    where = view.visualRect(row).center()
    seen = []
    panel.currentSlugChanged.connect(lambda slug: seen.append(("current", slug)))
    panel.contextMenuRequested.connect(lambda at: seen.append(("menu", at)))
    view.customContextMenuRequested.emit(where)
    assert seen == [("current", "02-b"), ("menu", view.viewport().mapToGlobal(where))]
    below_the_rows = QPoint(5, view.viewport().height() - 2)
    with qtbot.assertNotEmitted(panel.contextMenuRequested):
        view.customContextMenuRequested.emit(below_the_rows)


def test_each_status_filter_counts_its_jobs_as_the_queue_changes(qtbot, panel):
    texts = filter_texts(panel)
    assert {f"{StatusFilter.ALL} (3)", f"{StatusFilter.ACTIVE} (2)", f"{StatusFilter.PROBLEMS} (1)",
            "Failed (1)", "Running (1)", "Pending (1)", "Invalid (0)", "Completed (0)"} <= set(texts)
    choose(panel, StatusFilter.PROBLEMS)
    state = QueueState(jobs=jobs(job("01-a", Status.COMPLETED), job("02-b", Status.FAILED),
                                 job("04-d", Status.INVALID), job("05-e", Status.INVALID)))
    panel.model.apply(Snapshot(state), ["01-a", "03-c", "04-d", "05-e"])
    qtbot.waitUntil(lambda: {f"{StatusFilter.ALL} (4)", f"{StatusFilter.PROBLEMS} (3)", "Invalid (2)",
                             "Completed (1)", "Running (0)"} <= set(filter_texts(panel)))
    assert panel.status_filter.currentText() == f"{StatusFilter.PROBLEMS} (3)"
    assert shown(panel) == ["02-b", "04-d", "05-e"]


def test_an_empty_queue_says_how_to_add_a_prd_and_links_to_the_format(qtbot):
    model = QueueModel()
    panel = QueuePanel(model)
    qtbot.addWidget(panel)
    panel.set_new_prd_keys("Ctrl+N")
    panel.resize(800, 400)
    panel.show()
    hint = panel.empty_hint
    assert hint.isVisible() and "Drop PRD files here, or New PRD (Ctrl+N)" in hint.text()
    assert abs(hint.geometry().center().x() - panel.view.viewport().rect().center().x()) <= 2
    with qtbot.waitSignal(panel.prdFormatRequested):
        hint.linkActivated.emit("prd-format")

    state = QueueState(jobs=jobs(job("01-a")))
    model.apply(Snapshot(state), list(state.jobs))
    qtbot.waitUntil(lambda: not hint.isVisible())
    model.apply(Snapshot(QueueState()), ["01-a"])
    qtbot.waitUntil(hint.isVisible)
