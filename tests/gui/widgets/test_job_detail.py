"""The job detail pane on its own: an invalid PRD's problem and fix, links to related jobs, a PRD body that
arrives late, the note shown before a job's first run, and the runs of a job whose session was resumed."""

from dataclasses import replace

from app.core.outcome import OutcomeKind
from app.core.prd import PrdError
from app.core.queue import LastRun, Resume, Status
from app.gui.transcript import TranscriptFollower, transcript_sources
from app.paths import Home
from tests.unit.core.factories import T0, job, jobs


def test_an_invalid_prd_shows_where_its_problem_is_and_how_to_fix_it(detail):
    error = PrdError("/prds/03-broken.md", 4, "parallelGroup is 'soon'", "use a whole number")
    broken = job("03-broken", Status.INVALID, error=error, extra={"owner": "alice"})
    detail.show_job(broken, jobs(broken), [])
    assert detail.error_box.isVisible()
    text = detail.error_box.text()
    assert "parallelGroup is 'soon'" in text  # markup escaped, apostrophes as written
    assert "use a whole number" in text and "/prds/03-broken.md:4" in text
    assert detail.frontmatter.rowCount() == 0  # the frontmatter of a file that did not parse is not trusted
    assert detail.edit_prd.isVisible()

    fixed = replace(broken, status=Status.PENDING, error=None)
    detail.show_job(fixed, jobs(fixed), [])
    assert not detail.error_box.isVisible() and not detail.edit_prd.isVisible()
    owner = detail.frontmatter.item(detail.frontmatter.rowCount() - 1, 0)
    assert owner.text() == "owner" and owner.font().italic()  # a key Overnight does not use


def test_links_lead_to_related_jobs_in_the_queue_and_name_those_that_are_not(qtbot, detail):
    fix_plan = job("01-fix-a")
    failed = replace(job("01-a", Status.FAILED, depends_on=("00-gone",)), fix_plan_slug="01-fix-a")
    detail.show_job(failed, jobs(failed, fix_plan), [])
    assert 'href="job:01-fix-a"' in detail.links.text()
    assert "00-gone (not in the queue)" in detail.links.text()
    with qtbot.waitSignal(detail.jobLinkActivated, check_params_cb=lambda slug: slug == "01-fix-a"):
        detail.links.linkActivated.emit("job:01-fix-a")


def test_a_prd_body_read_for_a_job_no_longer_selected_is_not_shown(detail):
    first, second = job("01-a"), job("02-b")
    detail.show_job(first, jobs(first, second), [])
    assert detail.transcript_note.text() == "No run yet: the transcript appears here when the job starts."
    detail.show_job(second, jobs(first, second), [])
    detail.show_prd_body("01-a", "# First")
    assert detail.prd_view.toPlainText() == ""
    detail.show_prd_body("02-b", "# Second")
    assert detail.prd_view.toPlainText() == "Second"


def test_an_invalid_prd_is_shown_as_written_with_numbered_lines_and_edit_prd_asks_to_open_it(qtbot, detail):
    text = "---\ntitle: x\n  model: sonnet\n---\n# Task\n"
    error = PrdError("/prds/03-broken.md", 3, "the frontmatter is not valid YAML", "remove the spaces")
    broken = job("03-broken", Status.INVALID, error=error)
    detail.show_job(broken, jobs(broken), [])
    detail.show_prd_body("03-broken", text)
    shown = detail.prd_view.toPlainText().splitlines()
    assert shown == ["1  ---", "2  title: x", "3    model: sonnet", "4  ---", "5  # Task"]
    assert not detail.frontmatter.isVisible()  # nothing parsed to show as a table
    assert detail.prd_view.textCursor().block().text() == "3    model: sonnet"
    with qtbot.waitSignal(detail.editRequested):
        detail.edit_prd.click()

    fixed = replace(broken, status=Status.PENDING, error=None)
    detail.show_job(fixed, jobs(fixed), [])
    detail.show_prd_body("03-broken", text.replace("  model", "model"))
    assert detail.prd_view.toPlainText() == "Task"  # valid again: the body rendered, without its frontmatter


def test_the_details_tab_and_the_title_read_in_plain_words(detail):
    last = LastRun(run_id="r1", outcome="rate_limited", exit_code=1, finished_at=T0, duration_ms=4_320_000,
                   cost_usd=1.5, num_turns=30,
                   reason="usage limit reached (five_hour), resets 2026-11-22T06:00:00+00:00")
    limited = job("04-" + "long-name-" * 12, Status.PENDING, title="A title " * 20, last=last,
                  reason="error_max_turns: reached 30 turns")
    detail.show_job(limited, jobs(limited), [])
    assert detail.details["Reason"].text() == "stopped at the turn limit: reached 30 turns"
    last_run = detail.details["Last run"].text()
    assert "rate_limited" not in last_run and "five_hour" not in last_run and "+00:00" not in last_run
    assert last_run.startswith("usage limit — usage limit reached (five-hour), resets ")
    assert detail.details["Duration"].text() == "1 h 12 min"
    assert detail.title.full_text.startswith("A title") and detail.title.minimumSizeHint().width() < 200
    assert limited.slug in detail.title.toolTip()


# ---------------------------------------------------------------- the runs of a resumed job

FIRST, SECOND, THIRD = "20261203-101500-abc123", "20261203-120000-def456", "20261203-140000-0a1b2c"


def resumed_job():
    """03-c: a run cut short by a usage limit, the run that continued it, and a third run going on now."""
    earlier = LastRun(FIRST, OutcomeKind.RATE_LIMITED, 1, T0, 60_000, 0.1, 3, "usage limit reached")
    last = LastRun(SECOND, OutcomeKind.FAILED, 1, T0, 60_000, 0.2, 5, "interrupted by a restart",
                   resumed_from=FIRST)
    running = job("03-c", Status.RUNNING, last=last, earlier_runs=(earlier,))
    return replace(running, current=replace(running.current, run_id=THIRD, resumed_from=SECOND))


def follow_as_the_window_does(detail):
    follower = TranscriptFollower(detail.transcript_view.model(), detail)
    detail.sourceChosen.connect(lambda source: follower.follow(source.path if source else None,
                                                               bool(source and source.live)))
    follower.noteChanged.connect(detail.show_transcript_note)
    return follower


def test_a_resumed_jobs_runs_are_listed_oldest_first_and_the_newest_is_shown(tmp_path, detail):
    home, resumed = Home(tmp_path), resumed_job()
    detail.show_job(resumed, jobs(resumed), transcript_sources(home, resumed))
    combo = detail.source_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        f"Run {FIRST} (rate limited)",
        f"Run {SECOND} (failed, resumed from run {FIRST})",
        f"Run {THIRD} (running, resumed from run {SECOND})",
    ]
    assert combo.currentIndex() == 2 and detail.source.path == home.run_files(THIRD, "03-c").log
    assert detail.details["Reason"].text() == f"resumed from run {SECOND}"

    waiting = replace(resumed, status=Status.PENDING, current=None, reason="usage limit reached",
                      resume=Resume(SECOND, "session-1", "usage limit reached"))
    detail.show_job(waiting, jobs(waiting), transcript_sources(home, waiting))
    assert detail.details["Reason"].text() == f"usage limit reached · will continue run {SECOND}'s session"
    assert combo.currentText() == f"Run {SECOND} (failed, resumed from run {FIRST})"


def test_a_chosen_earlier_run_stays_chosen_and_the_newest_is_followed_into_the_next_run(tmp_path, detail):
    home, resumed = Home(tmp_path), resumed_job()
    before = replace(resumed, current=replace(resumed.current, run_id="20261203-130000-ffffff"))
    detail.show_job(before, jobs(before), transcript_sources(home, before))
    detail.show_job(resumed, jobs(resumed), transcript_sources(home, resumed))  # a new run began
    assert detail.source_combo.currentText().startswith(f"Run {THIRD}")
    detail.choose_source(0)
    finished = replace(resumed, status=Status.FAILED, current=None,
                       last=LastRun(THIRD, OutcomeKind.FAILED, 1, T0, 1000, None, None, "exit 1", resumed_from=SECOND),
                       earlier_runs=(*resumed.earlier_runs, resumed.last))
    detail.show_job(finished, jobs(finished), transcript_sources(home, finished))
    assert detail.source_combo.currentText() == f"Run {FIRST} (rate limited)"
    assert detail.source.path == home.run_files(FIRST, "03-c").log


def test_a_run_whose_folder_was_pruned_says_no_transcript_was_written(qtbot, tmp_path, detail):
    home, resumed = Home(tmp_path), resumed_job()
    newest = home.run_files(THIRD, "03-c").log
    newest.parent.mkdir(parents=True)
    newest.write_text("")
    follow_as_the_window_does(detail)
    detail.show_job(resumed, jobs(resumed), transcript_sources(home, resumed))
    assert not home.run_dir(FIRST).exists()  # pruned
    detail.choose_source(0)
    qtbot.waitUntil(lambda: detail.transcript_note.text() == "no transcript was written", timeout=3000)
    assert detail.source_combo.isVisible() and detail.source_combo.currentIndex() == 0
