"""The job detail pane on its own: an invalid PRD's problem and fix, links to related jobs, a PRD body that
arrives late, and the note shown before a job's first run."""

from dataclasses import replace

from app.core.prd import PrdError
from app.core.queue import LastRun, Status
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
