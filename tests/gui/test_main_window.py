"""The main window against a real engine running the scripted stand-in agent."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from app.core.event_names import EventName
from app.core.queue import CurrentRun, PauseReason, QueueState, Status
from app.engine.api import EngineEvent, Snapshot
from app.gui.bridge import EngineBridge
from app.gui.dialogs.archive import ArchiveQuestion
from app.gui.main_window import PAUSE_REASON, MainWindow
from app.gui.queue_model import Column
from app.gui.transcript import TranscriptFollower
from app.gui.transcript_model import RowKind, TranscriptModel
from tests.gui.file_drop import drop
from tests.support import make_home, write_prd
from tests.unit.core.factories import job

RUN_TIMEOUT = 15000


def status_in_table(window, slug):
    row = window.queue_model.row_of(slug)
    return None if row is None else window.queue_model.index(row, Column.STATUS).data()


def wait_for_status(qtbot, window, slug, status, timeout=RUN_TIMEOUT):
    qtbot.waitUntil(lambda: status_in_table(window, slug) == status, timeout=timeout)


def transcript_texts(window):
    return [row.text for row in window.transcript_model.rows()]


def test_dropped_prds_run_and_the_selected_one_shows_its_transcript_and_prd(qtbot, window, tmp_path):
    source = tmp_path / "drop"
    source.mkdir()
    (source / "01-alpha.md").write_text('# Alpha\n@fake text "alpha says hi"\n')
    (source / "01-beta.md").write_text('# Beta\n@fake text "beta says hi"\n')
    drop(window, [source / "01-alpha.md", source / "01-beta.md"])
    qtbot.waitUntil(lambda: window.queue_panel.proxy.rowCount() == 2, timeout=5000)
    wait_for_status(qtbot, window, "01-alpha", "completed")
    wait_for_status(qtbot, window, "01-beta", "completed")

    window.queue_panel.select_slug("01-beta")
    qtbot.waitUntil(lambda: "beta says hi" in transcript_texts(window), timeout=5000)
    qtbot.waitUntil(lambda: window.transcript_model.rows()[-1].kind is RowKind.RESULT, timeout=5000)
    assert window.transcript_model.rows()[-1].text.startswith("result: success, 1 turn, $")
    assert "alpha says hi" not in transcript_texts(window)
    qtbot.waitUntil(lambda: "Beta" in window.detail.prd_view.toPlainText(), timeout=5000)
    assert window.detail.details["Status"].text() == "completed"


def answer_archive(qtbot, window, archive=True):
    """Click Archive (or Cancel) in the question the window asks before archiving."""
    qtbot.waitUntil(lambda: window.findChild(ArchiveQuestion) is not None and window.findChild(ArchiveQuestion)
                    .isVisible(), timeout=5000)
    question = window.findChild(ArchiveQuestion)
    assert window.selected_slug in question.text()
    (question.archive_button if archive else question.button(question.StandardButton.Cancel)).click()


def frontmatter_rows(window):
    table = window.detail.frontmatter
    return {table.item(row, 0).text(): table.item(row, 1).text() for row in range(table.rowCount())}


def test_a_running_job_shows_its_eta_and_its_transcript_grows_while_it_runs(qtbot, window):
    write_prd(window.home, "01-nap.md", '@fake text "before the nap"\n@fake sleep 2\n@fake text "after the nap"\n',
              estimateMinutes=5, owner="alice")
    wait_for_status(qtbot, window, "01-nap", "running")
    window.queue_panel.select_slug("01-nap")
    qtbot.waitUntil(lambda: "before the nap" in transcript_texts(window), timeout=5000)
    assert "after the nap" not in transcript_texts(window)
    assert window.detail.source.live
    duration = window.queue_model.index(window.queue_model.row_of("01-nap"), Column.DURATION).data()
    assert re.fullmatch(r"\d+ s · ETA [45] min \d\d s", duration)
    assert frontmatter_rows(window) | {"cwd": ""} == {"title": "01-nap", "cwd": "", "parallelGroup": "1",
                                                     "estimateMinutes": "5", "model": "sonnet", "owner": "alice"}
    qtbot.waitUntil(lambda: "after the nap" in transcript_texts(window), timeout=RUN_TIMEOUT)
    wait_for_status(qtbot, window, "01-nap", "completed")
    qtbot.waitUntil(lambda: window.transcript_model.rows()[-1].kind is RowKind.RESULT, timeout=5000)


def test_a_hidden_window_reads_no_transcript_and_catches_up_when_shown_again(qtbot, window):
    write_prd(window.home, "01-nap.md", '@fake text "before the nap"\n@fake sleep 2\n@fake text "after the nap"\n')
    wait_for_status(qtbot, window, "01-nap", "running")
    window.queue_panel.select_slug("01-nap")
    qtbot.waitUntil(lambda: "before the nap" in transcript_texts(window), timeout=5000)
    window.hide()
    assert window.follower.suspended and not window.clock.isActive()
    wait_for_status(qtbot, window, "01-nap", "completed")  # the queue still follows the engine
    reader = TranscriptFollower(TranscriptModel())  # reads the same file meanwhile, as the window would
    reader.follow(window.detail.source.path, live=False)
    qtbot.waitUntil(lambda: "after the nap" in [row.text for row in reader.model.rows()], timeout=5000)
    reader.stop()
    assert "after the nap" not in transcript_texts(window)

    window.show()
    assert not window.follower.suspended and window.clock.isActive()
    qtbot.waitUntil(lambda: "after the nap" in transcript_texts(window), timeout=5000)
    qtbot.waitUntil(lambda: window.transcript_model.rows()[-1].kind is RowKind.RESULT, timeout=5000)


def test_pause_from_the_toolbar_shows_the_banner_until_resumed_from_it(qtbot, window, bridge):
    banner = window.pause_banner
    assert not banner.isVisible()
    window.user_actions["pause"].trigger()
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=5000)
    assert bridge.state.paused.reason is PauseReason.MANUAL
    assert banner.message.full_text == f"Paused: by you — {PAUSE_REASON}"
    assert window.user_actions["pause"].text() == "Resume"

    banner.resume_button.click()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
    assert bridge.state.paused is None
    assert window.user_actions["pause"].text() == "Pause"


def test_a_refused_command_is_shown_to_the_user(qtbot, window):
    window.send_command({"cmd": "resume"}, "Resume")
    qtbot.waitUntil(lambda: window.notice.text() == "Resume: the queue is not paused", timeout=5000)


def test_an_invalid_prd_shows_its_problem_and_fix_in_the_detail_pane(qtbot, window):
    write_prd(window.home, "03-broken.md", "do the thing\n", parallelGroup="soon")
    wait_for_status(qtbot, window, "03-broken", "invalid", timeout=5000)
    window.queue_panel.select_slug("03-broken")
    error_box = window.detail.error_box
    assert error_box.isVisible()
    assert "parallelGroup is 'soon'" in error_box.text()
    assert "use a whole number from 0 to" in error_box.text()
    assert not window.user_actions["run"].isEnabled()


class UrlRecorder(QObject):
    """Stands in for the desktop's handler of file URLs: records what the app asked to open."""

    def __init__(self):
        super().__init__()
        self.opened = []

    @Slot(QUrl)
    def open(self, url):
        self.opened.append(Path(url.toLocalFile()))


@pytest.fixture
def file_urls():
    recorder = UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "open")
    yield recorder
    QDesktopServices.unsetUrlHandler("file")


def test_an_invalid_prd_shows_its_raw_text_at_the_bad_line_and_edit_prd_opens_it(qtbot, window, file_urls):
    prd = write_prd(window.home, "03-broken.md", '---\ntitle: "Fix login\nmodel: sonnet\n---\nDo it.\n')
    wait_for_status(qtbot, window, "03-broken", "invalid", timeout=5000)
    window.queue_panel.select_slug("03-broken")
    assert f"{prd}:2" in window.detail.error_box.text() and "closing quote" in window.detail.error_box.text()
    qtbot.waitUntil(lambda: '2  title: "Fix login' in window.detail.prd_view.toPlainText(), timeout=5000)
    assert window.detail.prd_view.toPlainText().splitlines()[0] == "1  ---"
    assert window.detail.prd_view.textCursor().block().text() == '2  title: "Fix login'  # the line at fault

    qtbot.mouseClick(window.detail.edit_prd, Qt.MouseButton.LeftButton)
    assert file_urls.opened == [prd]


def test_cancel_from_the_context_menu_stops_a_running_job_and_archive_waits_for_it(qtbot, window):
    prd = write_prd(window.home, "01-long.md", "@fake sleep 30\n")
    wait_for_status(qtbot, window, "01-long", "running")
    view = window.queue_panel.view
    row = window.queue_panel.proxy.mapFromSource(window.queue_model.index(window.queue_model.row_of("01-long"), 0))
    view.customContextMenuRequested.emit(view.visualRect(row).center())
    assert window.selected_slug == "01-long"
    enabled = {action.text() for action in window.job_menu.actions() if action.isEnabled() and action.text()}
    assert {"Cancel", "Open PRD", "Reveal in folder", "Open log"} <= enabled
    assert not enabled & {"Archive", "Run now", "Re-run", "Reset to pending"}

    window.archive_selected()
    answer_archive(qtbot, window)
    qtbot.waitUntil(lambda: "is running; cancel it before archiving it" in window.notice.text(), timeout=5000)
    assert prd.exists()

    window.user_actions["cancel"].trigger()
    window.job_menu.hide()
    wait_for_status(qtbot, window, "01-long", "cancelled")


def test_archive_moves_the_prd_into_the_archive_folder(qtbot, window):
    home = window.home
    write_prd(home, "01-done.md", '@fake text "done"\n')
    wait_for_status(qtbot, window, "01-done", "completed")
    window.queue_panel.select_slug("01-done")
    assert window.user_actions["archive"].isEnabled()
    window.user_actions["archive"].trigger()
    answer_archive(qtbot, window, archive=False)
    assert (home.prds / "01-done.md").exists() and window.queue_model.row_of("01-done") is not None
    window.user_actions["archive"].trigger()
    answer_archive(qtbot, window)
    qtbot.waitUntil(lambda: (home.archive / "01-done.md").exists(), timeout=5000)
    assert not (home.prds / "01-done.md").exists()
    qtbot.waitUntil(lambda: window.queue_model.row_of("01-done") is None, timeout=5000)


def test_a_failed_job_links_to_its_fix_plan_and_its_investigation_transcript(qtbot, window, bridge):
    write_prd(window.home, "02-flaky.md", "@fake max_turns\n")
    qtbot.waitUntil(lambda: bool((flaky := bridge.state.jobs.get("02-flaky")) and flaky.fix_plan_slug),
                    timeout=RUN_TIMEOUT)
    fix_plan = bridge.state.jobs["02-flaky"].fix_plan_slug
    window.queue_panel.select_slug("02-flaky")
    detail = window.detail
    qtbot.waitUntil(lambda: f"job:{fix_plan}" in detail.links.text(), timeout=5000)
    assert [source.label.split(" ")[0] for source in detail.sources] == ["Run", "Investigation"]

    detail.links.linkActivated.emit("investigation")
    assert detail.source.label.startswith("Investigation")
    qtbot.waitUntil(lambda: any(text.startswith("→ Write") for text in transcript_texts(window)), timeout=5000)

    detail.links.linkActivated.emit(f"job:{fix_plan}")
    assert window.selected_slug == fix_plan
    assert "job:02-flaky" in detail.links.text()


def test_config_problems_reach_the_status_strip(qtbot, window):
    window.home.config.write_text(window.home.config.read_text() + "concurrency_cap: 0\n")
    qtbot.waitUntil(lambda: window.usage_strip.problems.isVisible(), timeout=5000)
    assert "concurrency_cap" in window.usage_strip.problems.toolTip()


def test_closing_asks_the_app_to_quit_or_hides_when_a_tray_exists(qtbot, idle_window):
    with qtbot.waitSignal(idle_window.quitRequested):
        idle_window.close()
    assert idle_window.isVisible()
    with qtbot.waitSignal(idle_window.quitRequested):
        idle_window.user_actions["quit"].trigger()
    assert idle_window.user_actions["quit"].shortcut().toString() == "Ctrl+Q"

    idle_window.hide_on_close = True
    with qtbot.assertNotEmitted(idle_window.quitRequested):
        idle_window.close()
    assert not idle_window.isVisible()
    idle_window.showMinimized()
    idle_window.show_and_raise()
    assert idle_window.isVisible() and not idle_window.isMinimized()

    idle_window.hide_on_close = False
    idle_window.accept_close()
    with qtbot.assertNotEmitted(idle_window.quitRequested):
        idle_window.close()
    assert not idle_window.isVisible()


def test_a_command_without_an_engine_is_reported(qtbot, idle_window):
    idle_window.user_actions["tick"].trigger()
    assert idle_window.notice.text() == "Start next batch now: the engine is not running"


def test_an_engine_error_reads_as_what_went_wrong_not_as_a_log_line(qtbot, idle_window):
    now = dt.datetime.now(dt.UTC)
    fields = {"where": "_check_gate_times", "error": "OSError: [Errno 28] No space left on device",
              "trace": "Traceback (most recent call last): ..."}
    idle_window.bridge.engineEvent.emit(EngineEvent(EventName.ENGINE_ERROR, now, fields, "error"))
    assert idle_window.notice.text() == "OSError: [Errno 28] No space left on device"
    broken = {"message": "config.yaml: usage.when_unknown is 'maybe' — use fire or hold"}
    idle_window.bridge.engineEvent.emit(EngineEvent(EventName.CONFIG_INVALID, now, broken, "error"))
    assert idle_window.notice.text() == broken["message"]  # names the key to change, as written


def test_the_clock_runs_only_while_the_window_is_shown_and_catches_up_at_once(qtbot, idle_window):
    assert idle_window.clock.isActive()
    idle_window.hide()
    assert not idle_window.clock.isActive()
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
    run = CurrentRun(run_id="run-1", started_at=started, log_path="/nonexistent/01-a.jsonl", content_hash="h")
    idle_window.bridge.stateChanged.emit(Snapshot(QueueState(jobs={"01-a": job("01-a", Status.RUNNING, current=run)})),
                                         ["01-a"])
    idle_window.queue_model.refresh(started)  # the clock as it stood when the window was hidden, long ago
    duration = idle_window.queue_model.index(0, Column.DURATION)
    assert duration.data() == "0 s"

    idle_window.show()
    assert idle_window.clock.isActive()
    assert re.fullmatch(r"3 min 0\d s", duration.data())


@pytest.fixture
def cluttered_home(tmp_path):
    home, environ, project = make_home(tmp_path)
    shutil.rmtree(home.runs)
    home.runs.write_text("a file where the runs folder goes")
    os.mkfifo(home.prds / "02-pipe.md")
    return home, environ, project


def test_what_the_engine_quarantined_at_start_and_unreadable_prds_are_shown_with_their_reason(qtbot, cluttered_home):
    home, environ, _ = cluttered_home
    bridge = EngineBridge(home, environ=environ)
    with qtbot.waitSignal(bridge.ready, timeout=20000):
        bridge.start()
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: status_in_table(window, "02-pipe") == "invalid", timeout=5000)
        row = window.queue_model.row_of("02-pipe")
        assert "named pipe" in window.queue_model.index(row, Column.REASON).data()
        qtbot.waitUntil(lambda: window.usage_strip.problems.isVisible(), timeout=5000)
        tooltip = window.usage_strip.problems.toolTip()
        assert "runs" in tooltip and "is not a folder" in tooltip and "moved to runs.quarantined-" in tooltip
    finally:
        with qtbot.waitSignal(bridge.stopped, timeout=30000):
            bridge.stop(stop_jobs=True)
        assert bridge.wait(10)
