"""docs/BEHAVIOUR.md section 4: the folder reconciled into the queue, one changed file at a time."""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import reconcile as rec
from app.core.prd import Unreadable
from app.core.queue import Investigation, InvestigationStatus, QueueState, Status
from app.core.reconcile import FileChange, PrdDefaults, reconcile

from .factories import T0, job


class Folder:
    """A real prds/ folder and the queue reconciled from it."""

    def __init__(self, root: Path) -> None:
        self.path = root / "prds"
        self.path.mkdir()
        self.defaults = PrdDefaults(prds_dir=str(self.path), default_cwd=str(root), default_model="sonnet")
        self.state = QueueState()
        self.notes: list[rec.Effect] = []

    def write(self, name: str, content: str) -> "Folder":
        (self.path / name).write_text(content)
        return self.sync(name)

    def remove(self, name: str) -> "Folder":
        (self.path / name).unlink()
        return self.sync(name)

    def sync(self, *names: str) -> "Folder":
        changes = []
        for name in names:
            file = self.path / name
            changes.append(FileChange(name, file.read_bytes() if file.exists() else None))
        self.state, self.notes = reconcile(self.state, changes, self.defaults, T0)
        return self

    def set(self, slug: str, **fields) -> None:
        jobs = dict(self.state.jobs)
        jobs[slug] = replace(jobs[slug], **fields)
        self.state = replace(self.state, jobs=jobs)

    def status(self, slug: str) -> Status:
        return self.state.jobs[slug].status

    def events(self) -> list[str]:
        return [note.event for note in self.notes]


@pytest.fixture
def folder(tmp_path) -> Folder:
    return Folder(tmp_path)


def running(folder: Folder, slug: str) -> None:
    folder.set(slug, status=Status.RUNNING, current=job(slug, Status.RUNNING).current)


def test_a_new_valid_file_becomes_pending(folder):
    folder.write("01-a.md", "do a")
    assert folder.status("01-a") is Status.PENDING
    assert folder.events() == ["prd.added"]


def test_a_new_invalid_file_becomes_invalid_with_a_reason_naming_the_file(folder):
    folder.write("01-a.md", "---\nparallelGroup: soon\n---\nbody")
    assert folder.status("01-a") is Status.INVALID
    assert "01-a.md:2: parallelGroup is 'soon'" in folder.state.jobs["01-a"].reason
    assert folder.events() == ["prd.invalid"]


def test_ignored_files_never_reach_the_queue(folder):
    for name in (".x.md", "a.md~", "b.md.swp", "c.tmp", "d.txt"):
        folder.write(name, "body")
    assert folder.state.jobs == {}


def test_a_changed_file_while_pending_is_re_read(folder):
    folder.write("01-a.md", "---\ntitle: Old\n---\nbody")
    folder.write("01-a.md", "---\ntitle: New\n---\nbody")
    assert folder.state.jobs["01-a"].title == "New"
    assert folder.status("01-a") is Status.PENDING


def test_a_fixed_invalid_file_becomes_pending(folder):
    folder.write("01-a.md", "---\nparallelGroup: soon\n---\nbody")
    folder.write("01-a.md", "---\nparallelGroup: 3\n---\nbody")
    assert folder.status("01-a") is Status.PENDING
    assert folder.state.jobs["01-a"].group == 3


def test_a_pending_file_broken_and_then_restored_is_pending_again(folder):
    folder.write("01-a.md", "---\ntitle: A\n---\nbody")
    folder.write("01-a.md", "---\ntitle: A\nparallelGroup: soon\n---\nbody")
    assert folder.status("01-a") is Status.INVALID
    folder.write("01-a.md", "---\ntitle: A\n---\nbody")
    assert folder.status("01-a") is Status.PENDING


def test_reparsing_with_new_defaults_moves_pending_jobs_but_not_running_or_finished_ones(folder, tmp_path):
    folder.write("01-a.md", "body")
    folder.write("02-b.md", "body")
    folder.write("03-c.md", "body")
    running(folder, "02-b")
    folder.set("03-c", status=Status.COMPLETED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.defaults = replace(folder.defaults, default_cwd=str(elsewhere), default_model="opus")
    changes = [FileChange(n, (folder.path / n).read_bytes()) for n in ("01-a.md", "02-b.md", "03-c.md")]
    folder.state, _ = reconcile(folder.state, changes, folder.defaults, T0, reparse=True)
    assert (folder.state.jobs["01-a"].cwd, folder.state.jobs["01-a"].model) == (str(elsewhere), "opus")
    assert folder.state.jobs["02-b"].reason == ""
    assert folder.state.jobs["02-b"].model == "sonnet"
    assert folder.state.jobs["03-c"].model == "sonnet"


def test_an_invalid_file_is_re_validated_when_saved_again_unchanged(folder, tmp_path):
    folder.write("01-a.md", f"---\ncwd: {tmp_path}/later\n---\nbody")
    assert folder.status("01-a") is Status.INVALID
    (tmp_path / "later").mkdir()
    folder.sync("01-a.md")
    assert folder.status("01-a") is Status.PENDING


def test_a_changed_file_while_running_keeps_running_and_is_flagged(folder):
    folder.write("01-a.md", "one")
    running(folder, "01-a")
    folder.write("01-a.md", "two")
    assert folder.status("01-a") is Status.RUNNING
    assert folder.state.jobs["01-a"].reason == rec.CHANGED_DURING_RUN


def test_a_changed_file_while_failed_goes_back_to_pending(folder):
    folder.write("01-a.md", "one")
    folder.set("01-a", status=Status.FAILED)
    folder.write("01-a.md", "two")
    assert folder.status("01-a") is Status.PENDING
    assert "job.requeued" in folder.events()


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.CANCELLED, Status.SKIPPED])
def test_a_changed_file_while_finished_only_refreshes_metadata(folder, status):
    folder.write("01-a.md", "---\ntitle: Old\n---\nbody")
    folder.set("01-a", status=status)
    folder.write("01-a.md", "---\ntitle: New\n---\nbody")
    assert folder.status("01-a") is status
    assert folder.state.jobs["01-a"].title == "New"


def test_a_finished_job_whose_file_turns_invalid_keeps_its_status_and_shows_the_problem(folder):
    folder.write("01-a.md", "body")
    folder.set("01-a", status=Status.COMPLETED)
    folder.write("01-a.md", "---\nparallelGroup: soon\n---\nbody")
    assert folder.status("01-a") is Status.COMPLETED
    assert "now invalid" in folder.state.jobs["01-a"].reason


@pytest.mark.parametrize("status", [Status.PENDING, Status.INVALID, Status.COMPLETED, Status.FAILED])
def test_a_file_gone_while_not_running_leaves_the_live_queue(folder, status):
    folder.write("01-a.md", "body")
    folder.set("01-a", status=status)
    folder.remove("01-a.md")
    assert "01-a" not in folder.state.jobs
    assert folder.events() == ["prd.removed"]


def test_a_file_gone_while_running_keeps_the_row_until_the_run_ends(folder):
    folder.write("01-a.md", "body")
    running(folder, "01-a")
    folder.remove("01-a.md")
    assert folder.status("01-a") is Status.RUNNING
    assert folder.state.jobs["01-a"].file_gone


def test_a_file_gone_while_its_investigation_runs_keeps_the_row(folder):
    folder.write("01-a.md", "body")
    inv = Investigation(InvestigationStatus.RUNNING, "01-fix-a", "r1")
    folder.set("01-a", status=Status.FAILED, investigation=inv)
    folder.remove("01-a.md")
    assert folder.state.jobs["01-a"].file_gone


def test_depends_on_naming_no_prd_is_invalid_until_that_prd_arrives(folder):
    folder.write("02-b.md", "---\ndependsOn: [01-a]\n---\nbody")
    assert folder.status("02-b") is Status.INVALID
    assert "dependsOn names 01-a, which is not a PRD" in folder.state.jobs["02-b"].reason
    folder.write("01-a.md", "body")
    assert folder.status("02-b") is Status.PENDING


def test_a_dependency_that_disappears_makes_its_dependents_invalid(folder):
    folder.write("01-a.md", "body")
    folder.write("02-b.md", "---\ndependsOn: [01-a]\n---\nbody")
    folder.remove("01-a.md")
    assert folder.status("02-b") is Status.INVALID


def test_a_dependency_cycle_makes_every_job_in_it_invalid_and_breaking_it_heals_them(folder):
    folder.write("01-a.md", "---\ndependsOn: [02-b]\n---\nbody")
    folder.write("02-b.md", "---\ndependsOn: [01-a]\n---\nbody")
    assert folder.status("01-a") is Status.INVALID
    assert folder.status("02-b") is Status.INVALID
    assert "cycle: " in folder.state.jobs["02-b"].reason
    folder.write("01-a.md", "body")
    assert folder.status("01-a") is Status.PENDING
    assert folder.status("02-b") is Status.PENDING


def test_a_fix_plan_is_linked_to_the_job_whose_investigation_asked_for_it(folder):
    folder.write("07-login.md", "body")
    inv = Investigation(InvestigationStatus.RUNNING, "07-fix-login", "r1")
    folder.set("07-login", status=Status.FAILED, investigation=inv)
    folder.write("07-fix-login.md", "---\ntitle: 'Fix: login'\n---\nbody")
    assert folder.state.jobs["07-login"].fix_plan_slug == "07-fix-login"
    assert folder.state.jobs["07-fix-login"].investigation_of == "07-login"


def test_reconcile_is_incremental_one_changed_file_costs_one_parse(folder, monkeypatch):
    for index in range(50):
        (folder.path / f"{index:02d}-x.md").write_text(f"body {index}")
    folder.sync(*[f"{index:02d}-x.md" for index in range(50)])
    parsed = []
    real_parse = rec.parse_prd
    monkeypatch.setattr(rec, "parse_prd", lambda name, *a, **k: parsed.append(name) or real_parse(name, *a, **k))
    folder.write("07-x.md", "changed")
    assert parsed == ["07-x.md"]


def test_an_unchanged_file_is_not_parsed_again(folder, monkeypatch):
    folder.write("01-a.md", "body")
    monkeypatch.setattr(rec, "parse_prd", lambda *a, **k: pytest.fail("parsed an unchanged file"))
    before = folder.state
    folder.sync("01-a.md")
    assert folder.state is before


contents = st.sampled_from(
    [
        None,
        "body",
        "other body",
        "---\nparallelGroup: soon\n---\nx",
        "---\ndependsOn: [01-a]\n---\nx",
        "---\ndependsOn: [02-b]\n---\nx",
        "---\ntitle: T\n---\n",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["01-a.md", "02-b.md", "03-c.md"]), contents), max_size=8))
def test_reconcile_is_idempotent_re_reading_the_folder_as_it_is_changes_nothing(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("r")
    defaults = PrdDefaults(prds_dir=str(root), default_cwd=str(root), default_model="sonnet")
    changes = [FileChange(name, None if body is None else body.encode()) for name, body in steps]
    folder_now = list({change.name: change for change in changes}.values())
    once, _ = reconcile(QueueState(), changes, defaults, T0)
    twice, notes = reconcile(once, folder_now, defaults, T0)
    assert twice == once
    assert notes == []


# ---------------------------------------------------------------- names that cannot be read


def test_a_name_that_cannot_be_read_is_an_invalid_row_with_the_reason_and_the_fix(folder):
    unreadable = Unreadable("is a named pipe (FIFO), not a regular file", "replace it with a plain text file")
    folder.state, folder.notes = reconcile(folder.state, [FileChange("02-pipe.md", None, unreadable)],
                                           folder.defaults, T0)
    job = folder.state.jobs["02-pipe"]
    assert job.status is Status.INVALID
    assert "named pipe" in job.reason and "plain text file" in job.reason
    assert folder.events() == ["prd.invalid"]
    (folder.path / "02-pipe.md").write_text("Now a real PRD.\n")
    assert folder.sync("02-pipe.md").status("02-pipe") is Status.PENDING


def test_a_pending_prd_replaced_by_something_unreadable_becomes_invalid_and_its_neighbours_stay(folder):
    folder.write("01-a.md", "A\n").write("01-b.md", "B\n")
    broken = Unreadable("is a broken link: what it points to does not exist", "fix the link")
    folder.state, _ = reconcile(folder.state, [FileChange("01-a.md", None, broken), FileChange("01-b.md", b"B2\n")],
                                folder.defaults, T0)
    assert folder.status("01-a") is Status.INVALID
    assert folder.status("01-b") is Status.PENDING


def test_a_change_parsed_already_is_not_parsed_again(folder):
    parsed = rec.parse_change(FileChange("01-a.md", b"---\ntitle: From the thread\n---\nA\n"), folder.defaults)
    change = replace(FileChange("01-a.md", b"---\ntitle: From the thread\n---\nA\n"), parsed=parsed)
    state, _ = reconcile(QueueState(), [change], replace(folder.defaults, is_dir=lambda path: False), T0)
    # is_dir says no folder exists: had it parsed again, the default cwd would make it invalid.
    assert state.jobs["01-a"].status is Status.PENDING
    assert state.jobs["01-a"].title == "From the thread"


def test_only_new_changed_or_retryable_files_need_parsing(folder):
    folder.write("01-a.md", "A\n")
    job = folder.state.jobs["01-a"]
    assert not rec.needs_parse(job, job.content_hash)
    assert rec.needs_parse(job, "other hash")
    assert rec.needs_parse(None, job.content_hash)
    assert rec.needs_parse(job, job.content_hash, reparse=True)


def test_a_held_fix_plan_found_in_prds_is_linked_as_written():
    held = Investigation(InvestigationStatus.HELD, "01-fix-a", "run-1", plan_path="/h/fix-plans/01-fix-a.md")
    queue = {"01-a": job("01-a", Status.FAILED, investigation=held), "01-fix-a": job("01-fix-a")}
    assert rec.link_fix_plan(queue, "01-fix-a")
    assert queue["01-a"].investigation.status is InvestigationStatus.WROTE_FIX_PLAN
    assert queue["01-a"].investigation.plan_path is None and queue["01-fix-a"].investigation_of == "01-a"
