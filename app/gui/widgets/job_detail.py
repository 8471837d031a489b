"""The selected job: its error and fix when invalid (with a button to edit the file), links to related
jobs, its live transcript, its PRD rendered as markdown with the frontmatter as a table (an invalid
PRD as its raw text with numbered lines, the line at fault marked), the facts of its runs, and for a
worktree job what it changed (a Changes tab, shown only for a job with a worktree)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.prd import body_of_text
from app.core.queue import Investigation, InvestigationStatus, Job
from app.core.verify import describe
from app.gui.formatting import (
    ERROR_COLOR,
    format_clock,
    format_cost,
    format_duration,
    plain_words,
    reason_text,
    status_text,
)
from app.gui.transcript import INVESTIGATION, RUN, TranscriptSource
from app.gui.transcript_model import TranscriptModel
from app.gui.widgets.changes_view import ChangesView
from app.gui.widgets.elided_label import ElidedLabel
from app.gui.widgets.transcript_view import TranscriptView

JOB_LINK = "job:"
INVESTIGATION_LINK = "investigation"
EARLIER_HIDDEN = "Earlier lines not shown — use Open log for the whole transcript."

_ERROR_STYLE = (
    "#errorBox { background: rgba(229, 72, 77, 40); border: 1px solid rgba(229, 72, 77, 170);"
    " border-radius: 4px; padding: 6px; }"
)

DETAIL_FIELDS = (
    "Status", "Reason", "Runs", "Last run", "Finished", "Duration", "Cost", "Turns", "Model", "Group", "Folder",
    "Depends on", "Estimate", "Verify",
)


class JobDetail(QWidget):
    jobLinkActivated = Signal(str)
    editRequested = Signal()  # open the selected PRD in the user's editor
    sourceChosen = Signal(object)  # TranscriptSource | None

    def __init__(self, transcript_model: TranscriptModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.sources: list[TranscriptSource] = []
        self.source: TranscriptSource | None = None
        self._follower_note = ""
        self._init_header()
        self._init_transcript_tab(transcript_model)
        self._init_prd_tab()
        self._init_details_tab()
        self.changes = ChangesView(self)
        self._init_layout()
        self._connect_signals()
        self.show_job(None, {}, [])

    # ------------------------------------------------------------ building

    def _init_header(self) -> None:
        self.title = ElidedLabel(self)  # a long title must not widen the window
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.error_box = QLabel(self)
        self.error_box.setObjectName("errorBox")
        self.error_box.setStyleSheet(_ERROR_STYLE)
        self.error_box.setWordWrap(True)
        self.error_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit_prd = QPushButton("Edit PRD", self)
        self.edit_prd.setToolTip("Open the PRD in your editor; saving the fixed file re-validates it")
        self.links = QLabel(self)
        self.links.setWordWrap(True)

    def _init_transcript_tab(self, transcript_model: TranscriptModel) -> None:
        self.transcript_tab = QWidget(self)
        self.source_combo = QComboBox(self.transcript_tab)
        self.transcript_note = QLabel(self.transcript_tab)
        self.earlier_hidden = QLabel(EARLIER_HIDDEN, self.transcript_tab)
        self.earlier_hidden.setVisible(transcript_model.earlier_hidden)
        self.transcript_view = TranscriptView(self.transcript_tab)
        self.transcript_view.setModel(transcript_model)
        top = QHBoxLayout()
        top.addWidget(self.source_combo)
        top.addWidget(self.transcript_note, 1)
        layout = QVBoxLayout(self.transcript_tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.earlier_hidden)
        layout.addWidget(self.transcript_view, 1)
        transcript_model.earlierHiddenChanged.connect(self.earlier_hidden.setVisible)

    def _init_prd_tab(self) -> None:
        self.prd_tab = QSplitter(Qt.Orientation.Vertical, self)
        self.frontmatter = QTableWidget(0, 2, self.prd_tab)
        self.frontmatter.setHorizontalHeaderLabels(["Key", "Value"])
        self.frontmatter.verticalHeader().setVisible(False)
        self.frontmatter.verticalHeader().setDefaultSectionSize(self.frontmatter.fontMetrics().height() + 6)
        self.frontmatter.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.frontmatter.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.prd_view = QTextBrowser(self.prd_tab)
        self.prd_view.setOpenExternalLinks(True)
        self.prd_tab.addWidget(self.frontmatter)
        self.prd_tab.addWidget(self.prd_view)
        self.prd_tab.setSizes([150, 400])

    def _init_details_tab(self) -> None:
        self.details_tab = QWidget(self)
        form = QFormLayout(self.details_tab)
        self.details: dict[str, QLabel] = {}
        for name in DETAIL_FIELDS:
            value = QLabel(self.details_tab)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", value)
            self.details[name] = value

    def _init_layout(self) -> None:
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.transcript_tab, "Transcript")
        self.tabs.addTab(self.prd_tab, "PRD")
        self.tabs.addTab(self.details_tab, "Details")
        self.tabs.addTab(self.changes, "Changes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        error_row = QHBoxLayout()
        error_row.addWidget(self.error_box, 1)
        error_row.addWidget(self.edit_prd, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(error_row)
        layout.addWidget(self.links)
        layout.addWidget(self.tabs, 1)

    def _connect_signals(self) -> None:
        self.links.linkActivated.connect(self._link_activated)
        self.edit_prd.clicked.connect(self.editRequested)
        self.source_combo.activated.connect(self._source_picked)

    # ------------------------------------------------------------ showing a job

    def show_job(self, job: Job | None, jobs: Mapping[str, Job], sources: list[TranscriptSource]) -> None:
        previous, self.job = self.job, job
        self.tabs.setEnabled(job is not None)
        self._show_title(job)
        self._show_error(job)
        self._show_links(job, jobs)
        self._show_frontmatter(job)
        self._show_details(job)
        self.tabs.setTabVisible(self.tabs.indexOf(self.changes), job is not None and job.workspace is not None)
        self.changes.show_job(job)
        same_job = previous is not None and job is not None and previous.slug == job.slug
        if not same_job:
            self.prd_view.clear()
        self._show_sources(sources, keep_choice=same_job)

    def show_prd_body(self, slug: str, text: str | None, problem: str = "") -> None:
        """The PRD's text, read off the GUI thread; ignored when another job is selected by now.
        A valid PRD's body is rendered; an invalid one is shown as written, its line at fault marked."""
        if self.job is None or self.job.slug != slug:
            return
        self.prd_view.setExtraSelections([])
        self.prd_view.setFont(self.font())
        if text is None:
            self.prd_view.setPlainText(problem)
        elif self.job.error is not None:
            self._show_raw(text, self.job.error.line)
        else:
            self.prd_view.setMarkdown(body_of_text(text))

    def _show_raw(self, text: str, line: int | None) -> None:
        lines = text.removesuffix("\n").split("\n")
        width = len(str(len(lines)))
        self.prd_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.prd_view.setPlainText("\n".join(f"{number:>{width}}  {content}"
                                             for number, content in enumerate(lines, 1)))
        if line is None or not 0 < line <= len(lines):
            return
        mark = QTextEdit.ExtraSelection()
        tint = QColor(ERROR_COLOR)
        tint.setAlpha(60)
        mark.format.setBackground(tint)
        mark.format.setProperty(mark.format.Property.FullWidthSelection, True)
        mark.cursor = QTextCursor(self.prd_view.document().findBlockByNumber(line - 1))
        self.prd_view.setExtraSelections([mark])
        self.prd_view.setTextCursor(mark.cursor)
        self.prd_view.ensureCursorVisible()

    def show_transcript_note(self, note: str) -> None:
        """What the transcript follower says: waiting for output, no file written."""
        self._follower_note = note
        self._show_note()

    def _show_note(self) -> None:
        note = self._follower_note
        if not note and self.job is not None and not self.sources:
            note = "No run yet: the transcript appears here when the job starts."
        self.transcript_note.setText(note)

    def choose_source(self, index: int) -> None:
        self.source_combo.setCurrentIndex(index)
        self._source_picked(index)

    def _show_title(self, job: Job | None) -> None:
        if job is None:
            self.title.set_full_text("Select a job to see its transcript, PRD and details.")
            return
        self.title.set_full_text(f"{job.title} — {job.slug} · {status_text(job)}", f"{job.title}\n{job.slug}.md")

    def _show_error(self, job: Job | None) -> None:
        error = job.error if job is not None else None
        self.error_box.setVisible(error is not None)
        self.edit_prd.setVisible(error is not None)
        if error is None:
            return
        where = f"{error.path}:{error.line}" if error.line else error.path
        self.error_box.setText(
            "<b>This PRD is invalid and will not run.</b><br>"
            f"<b>Problem:</b> {_html(error.problem)}<br>"
            f"<b>Fix:</b> {_html(error.fix)}<br>"
            f"<small>{_html(where)} — saving the fixed file re-validates it.</small>"
        )

    def _show_links(self, job: Job | None, jobs: Mapping[str, Job]) -> None:
        parts = _link_parts(job, jobs) if job is not None else []
        self.links.setVisible(bool(parts))
        self.links.setText("<br>".join(parts))

    def _show_frontmatter(self, job: Job | None) -> None:
        rows = _frontmatter_rows(job) if job is not None and job.error is None else []
        self.frontmatter.setVisible(job is None or job.error is None)  # an invalid PRD is shown as written
        self.frontmatter.setRowCount(len(rows))
        for number, (key, value, known) in enumerate(rows):
            key_item = QTableWidgetItem(key)
            value_item = QTableWidgetItem(value)
            if not known:
                key_item.setToolTip("not used by Overnight; kept as written")
                font = key_item.font()
                font.setItalic(True)
                key_item.setFont(font)
            self.frontmatter.setItem(number, 0, key_item)
            self.frontmatter.setItem(number, 1, value_item)

    def _show_details(self, job: Job | None) -> None:
        values = _detail_values(job) if job is not None else {}
        for name, label in self.details.items():
            label.setText(values.get(name, ""))

    def _show_sources(self, sources: list[TranscriptSource], keep_choice: bool) -> None:
        index = self._source_to_show(sources, self.source if keep_choice else None)
        self.sources = sources
        labels = [source.label for source in sources]
        self.source_combo.blockSignals(True)
        if labels != [self.source_combo.itemText(i) for i in range(self.source_combo.count())]:
            self.source_combo.clear()
            self.source_combo.addItems(labels)
        self.source_combo.setCurrentIndex(index if sources else -1)
        self.source_combo.blockSignals(False)
        self.source_combo.setVisible(bool(sources))
        self._pick(sources[index] if sources else None)
        self._show_note()

    def _source_to_show(self, sources: list[TranscriptSource], previous: TranscriptSource | None) -> int:
        """The newest run's transcript, unless the user chose another of the same job: then that one
        (a run by its file, the verify log or the investigation as such). Whoever watches the newest
        run follows on to the next one when it starts."""
        if previous is not None and (previous.kind != RUN or previous != _newest_run(self.sources)):
            for index, source in enumerate(sources):
                if (source.path == previous.path) if previous.kind == RUN else (source.kind == previous.kind):
                    return index
        newest = _newest_run(sources)
        return sources.index(newest) if newest is not None else 0

    def _source_picked(self, index: int) -> None:
        if 0 <= index < len(self.sources):
            self._pick(self.sources[index])

    def _pick(self, source: TranscriptSource | None) -> None:
        if source != self.source:
            self.source = source
            self.sourceChosen.emit(source)

    def _link_activated(self, link: str) -> None:
        if link.startswith(JOB_LINK):
            self.jobLinkActivated.emit(link.removeprefix(JOB_LINK))
        elif link == INVESTIGATION_LINK:
            index = next((i for i, s in enumerate(self.sources) if s.kind == INVESTIGATION), None)
            if index is not None:
                self.tabs.setCurrentWidget(self.transcript_tab)
                self.choose_source(index)


def _html(text: str) -> str:
    """Text for a rich-text label: markup escaped, apostrophes kept readable."""
    return escape(text, quote=False)


def _newest_run(sources: list[TranscriptSource]) -> TranscriptSource | None:
    return next((source for source in reversed(sources) if source.kind == RUN), None)


def _job_link(slug: str, jobs: Mapping[str, Job]) -> str:
    if slug in jobs:
        return f'<a href="{JOB_LINK}{escape(slug)}">{_html(slug)}</a>'
    return f"{_html(slug)} (not in the queue)"


def _link_parts(job: Job, jobs: Mapping[str, Job]) -> list[str]:
    parts = []
    if job.fix_plan_slug:
        parts.append(f"Fix plan: {_job_link(job.fix_plan_slug, jobs)}")
    if job.investigation_of:
        parts.append(f"Fix plan for the failed job {_job_link(job.investigation_of, jobs)}")
    investigation = job.investigation
    if investigation is not None:
        show = f' — <a href="{INVESTIGATION_LINK}">show its transcript</a>' if investigation.run_id else ""
        parts.append(f"Investigation: {_html(_investigation_words(investigation))}{show}")
    if job.depends_on:
        parts.append("Depends on: " + ", ".join(_job_link(slug, jobs) for slug in job.depends_on))
    return parts


def _investigation_words(investigation: Investigation) -> str:
    fix_plan = investigation.fix_plan_slug
    match investigation.status:
        case InvestigationStatus.WAITING:
            return f"waiting to investigate the failure (it will write {fix_plan})"
        case InvestigationStatus.RUNNING:
            return f"investigating the failure, writing {fix_plan}"
        case InvestigationStatus.WROTE_FIX_PLAN:
            return f"wrote {fix_plan}"
    return investigation.reason or "ended without writing a fix plan"


def _frontmatter_rows(job: Job) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, Any]] = [
        ("title", job.title),
        ("cwd", job.cwd),
        ("parallelGroup", job.group),
        ("estimateMinutes", job.estimate_minutes),
        ("model", job.model),
        ("dependsOn", list(job.depends_on)),
    ]
    known = [(key, _value_text(value), True) for key, value in rows if value not in (None, [])]
    extra = [(key, _value_text(value), False) for key, value in job.extra.items()]
    return known + extra


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False, default=str)


def _detail_values(job: Job) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    values = {
        "Status": status_text(job),
        "Reason": reason_text(job, None, now),
        "Runs": str(job.runs),
        "Model": job.model,
        "Group": str(job.group),
        "Folder": job.cwd,
        "Depends on": ", ".join(job.depends_on),
        "Estimate": format_duration(job.estimate_minutes * 60) if job.estimate_minutes is not None else "",
        "Verify": describe(job.verify) if job.verify is not None else "",
    }
    last = job.last
    if last is not None:
        values |= {
            "Last run": plain_words(f"{last.outcome} — {last.reason}" if last.reason else last.outcome, now),
            "Finished": format_clock(last.finished_at, now),
            "Duration": format_duration(last.duration_ms / 1000),
            "Cost": format_cost(last.cost_usd),
            "Turns": "" if last.num_turns is None else str(last.num_turns),
        }
    if job.current is not None:
        values["Last run"] = f"running since {format_clock(job.current.started_at, now)} ({job.current.run_id})"
    return values
