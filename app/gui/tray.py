"""The tray icon: the queue's state at a glance, a menu to steer it, notifications for what needs the user.

The menu is rebuilt from the current state each time it opens, so its Pause/Resume entry
is never stale.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMenu, QStyle, QSystemTrayIcon

from app.core.event_names import EventName
from app.core.queue import InvestigationStatus, Job, Pause, PauseReason, QueueState, Status
from app.core.text import pluralize
from app.core.upkeep import alive, has_anything_left
from app.core.usage import Usage, Window
from app.engine.api import EngineEvent, Snapshot
from app.gui.bridge import EngineBridge
from app.gui.desktop import open_path
from app.gui.formatting import PAUSE_WORDS, format_clock, plain_words
from app.gui.icons import TrayLook, TrayState, app_icon, tray_icon
from app.gui.main_window import MainWindow
from app.gui.tray_messages import GROUP_MS, GroupedNotify, Notify

MessageIcon = QSystemTrayIcon.MessageIcon
NOTIFICATION_MS = 10_000
PAUSE_REASON = "paused from the tray"


class Tray(QObject):
    quitRequested = Signal()

    def __init__(self, bridge: EngineBridge, window: MainWindow, notify: Notify | None = None,
                 parent: QObject | None = None, group_ms: int = GROUP_MS) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._window = window
        self._icon = QSystemTrayIcon(self)
        self._menu = QMenu()
        self._notify = GroupedNotify(notify or self._show_message, group_ms, self)
        self._watching_since = dt.datetime.now(dt.UTC)
        self._engine_error: str | None = None
        self._reported_failures: set[str] = set()  # run ids
        self._unseen_failures: set[str] = set()  # run ids failed since the user last looked
        self._reported_invalid: set[tuple[str, str]] = set()  # (slug, content hash)
        self._queue_ran = alive(bridge.state.jobs) > 0
        self._look: TrayLook | None = None
        self._icon.setContextMenu(self._menu)
        self._rebuild_menu()
        self._connect_signals()
        self._refresh()

    def _connect_signals(self) -> None:
        self._bridge.stateChanged.connect(self._on_state)
        self._bridge.engineEvent.connect(self._on_event)
        self._bridge.failed.connect(self._on_engine_failed)
        self._icon.activated.connect(self._on_activated)
        self._icon.messageClicked.connect(self._on_message_clicked)
        self._menu.aboutToShow.connect(self._rebuild_menu)
        self._window.installEventFilter(self)

    # ------------------------------------------------------------ public

    def show(self) -> None:
        self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    def menu(self) -> QMenu:
        return self._menu

    @property
    def look(self) -> TrayLook:
        """What the icon shows now."""
        assert self._look is not None  # drawn in __init__
        return self._look

    def icon(self) -> QIcon:
        return self._icon.icon()

    def tooltip(self) -> str:
        return self._icon.toolTip()

    def show_window(self) -> None:
        self._window.show_and_raise()
        self._mark_seen()

    # ------------------------------------------------------------ the menu

    @Slot()
    def _rebuild_menu(self) -> None:
        menu = self._menu
        menu.clear()
        icon = menu.style().standardIcon
        pixmap = QStyle.StandardPixmap
        menu.addAction(self._counts_line()).setEnabled(False)
        paused = self._bridge.state.paused
        if paused is not None:
            line = _pause_line(paused)
            menu.addAction(line[:1].upper() + line[1:]).setEnabled(False)
        needs_fixing = self._needs_fixing_line()
        if needs_fixing:
            menu.addAction(icon(pixmap.SP_MessageBoxWarning), needs_fixing, lambda: self._show_first(Status.INVALID))
        needs_review = self._needs_review_line()
        if needs_review:
            menu.addAction(icon(pixmap.SP_MessageBoxQuestion), needs_review,
                           lambda: self._show_first(Status.NEEDS_REVIEW))
        menu.addSeparator()
        menu.setDefaultAction(menu.addAction(app_icon(), "Show Overnight", self.show_window))
        menu.addAction(icon(pixmap.SP_FileIcon), "New PRD…", self._new_prd)
        if self._bridge.state.paused is None:
            menu.addAction(icon(pixmap.SP_MediaPause), "Pause", self._pause)
        else:
            menu.addAction(icon(pixmap.SP_MediaPlay), "Resume", self._resume)
        menu.addAction(icon(pixmap.SP_MediaSeekForward), "Start next batch now", self._force_tick)
        menu.addAction(icon(pixmap.SP_DirOpenIcon), "Open folder", self._open_folder)
        menu.addAction(icon(pixmap.SP_FileDialogDetailedView), "Settings…", self._settings)
        menu.addSeparator()
        menu.addAction("Quit", self.quitRequested.emit)

    def _pause(self) -> None:
        self._bridge.command({"cmd": "pause", "reason": PAUSE_REASON}, self._report_refusal)

    def _resume(self) -> None:
        self._bridge.command({"cmd": "resume"}, self._report_refusal)

    def _force_tick(self) -> None:
        self._bridge.command({"cmd": "tick"}, self._report_refusal)

    def _open_folder(self) -> None:
        open_path(self._bridge.home.prds)

    def _show_first(self, status: Status) -> None:
        """The window, with the first job of `status` selected: an invalid PRD's problem, fix and
        Edit PRD, or what a job that needs review ended with."""
        self.show_window()
        found = sorted(job.slug for job in self._bridge.state.jobs.values() if job.status is status)
        if found:
            self._window.queue_panel.select_slug(found[0])

    def _new_prd(self) -> None:
        self.show_window()
        self._window.open_new_prd()

    def _settings(self) -> None:
        self.show_window()
        self._window.open_settings()

    def _report_refusal(self, answer: dict[str, Any]) -> None:
        if not answer.get("ok"):
            self._notify("Overnight", answer.get("error", "the engine refused"), MessageIcon.Warning)

    # ------------------------------------------------------------ what the engine says

    @Slot(object, list)
    def _on_state(self, snapshot: Snapshot, changed: list[str]) -> None:
        state = snapshot.state
        for slug in changed:
            job = state.jobs.get(slug)
            if job is not None and self._is_new_failure(job):
                self._job_failed(job)
            elif job is not None and self._is_newly_invalid(job):
                self._job_invalid(job)
        self._follow_drain(state)
        self._refresh()

    @Slot(object)
    def _on_event(self, event: EngineEvent) -> None:
        if event.event == EventName.QUEUE_PAUSED and event.fields.get("reason") != PauseReason.MANUAL:
            # A manual pause is the user's own act: telling them about it is noise.
            message = plain_words(event.fields.get("message") or "", dt.datetime.now(dt.UTC))
            self._notify(_pause_title(event.fields), message, MessageIcon.Warning)
        elif event.event == EventName.FIXPLAN_HELD:
            fields = event.fields
            self._notify("Fix plan awaiting approval", f"{fields['slug']}.md was written for "
                         f"{fields.get('investigationOf')}; approve it to run it.", MessageIcon.Information)
        elif event.event == EventName.INVESTIGATION_FINISHED and event.fields.get("fixPlan") and not event.fields.get(
                "held"):
            fields = event.fields
            self._notify("Fix plan written",
                         f"{fields['fixPlan']}.md was written for {fields.get('slug')} and is queued.",
                         MessageIcon.Information)
        self._refresh()

    @Slot(str)
    def _on_engine_failed(self, message: str) -> None:
        self._engine_error = message
        self._refresh()

    def _is_new_failure(self, job: Job) -> bool:
        last = job.last
        return (
            job.status is Status.FAILED
            and last is not None
            and last.run_id not in self._reported_failures
            and last.finished_at >= self._watching_since
        )

    def _is_newly_invalid(self, job: Job) -> bool:
        return (
            job.status is Status.INVALID
            and (job.slug, job.content_hash) not in self._reported_invalid
            and job.updated_at >= self._watching_since
        )

    def _job_invalid(self, job: Job) -> None:
        self._reported_invalid.add((job.slug, job.content_hash))
        text = job.error.one_line() if job.error is not None else job.reason
        self._notify(f"PRD needs fixing: {job.slug}", text, MessageIcon.Warning)

    def _job_failed(self, job: Job) -> None:
        run_id = job.last.run_id
        self._reported_failures.add(run_id)
        if not self._window.isActiveWindow():
            self._unseen_failures.add(run_id)
        investigating = job.investigation is not None and job.investigation.status in (
            InvestigationStatus.WAITING, InvestigationStatus.RUNNING)
        text = plain_words(job.reason, dt.datetime.now(dt.UTC))
        text += " An investigation will write a fix plan." if investigating else ""
        self._notify(f"Job failed: {job.title}", text, MessageIcon.Critical)

    def _follow_drain(self, state: QueueState) -> None:
        if alive(state.jobs):
            self._queue_ran = True
        elif self._queue_ran and not has_anything_left(state.jobs):
            self._queue_ran = False
            self._notify("Queue finished", _drained_text(state), MessageIcon.Information)

    # ------------------------------------------------------------ icon and tooltip

    def _refresh(self) -> None:
        look = self._current_look()
        if look != self._look:
            self._look = look
            self._icon.setIcon(tray_icon(look))
        self._icon.setToolTip(self._tooltip_text())

    def _current_look(self) -> TrayLook:
        state = self._bridge.state
        working = sum(1 for job in state.jobs.values() if job.is_busy)
        if state.paused is not None and not self._engine_error and not self._bridge.snapshot.problems:
            # Paused stays in sight; a failure the user has not seen yet adds its badge.
            return TrayLook(TrayState.PAUSED, working, failed=bool(self._unseen_failures))
        if self._problems():
            return TrayLook(TrayState.ERROR, working)
        if working:
            return TrayLook(TrayState.RUNNING, working)
        return TrayLook(TrayState.IDLE)

    def _problems(self) -> list[str]:
        problems = []
        if self._engine_error:
            problems.append(f"Engine stopped: {self._engine_error}")
        problems += list(self._bridge.snapshot.problems[:1])
        if self._unseen_failures:
            count = len(self._unseen_failures)
            problems.append(f"{count} job{'s' if count > 1 else ''} failed since you last looked")
        return problems

    def _tooltip_text(self) -> str:
        state = self._bridge.state
        lines = ["Overnight" + (f" — {_pause_line(state.paused)}" if state.paused else "")]
        lines.append(self._counts_line())
        lines.append(self._needs_fixing_line())
        lines.append(self._needs_review_line())
        lines.append(_usage_line(state.usage, dt.datetime.now(dt.UTC)))
        lines += self._problems()
        return "\n".join(line for line in lines if line)

    def _counts_line(self) -> str:
        state = self._bridge.state
        review = _count(state, Status.NEEDS_REVIEW)
        return (f"{_count(state, Status.RUNNING)} running · {_count(state, Status.PENDING)} pending · "
                f"{_count(state, Status.FAILED)} failed" + (f" · {review} to review" if review else ""))

    def _needs_fixing_line(self) -> str:
        """"1 PRD needs fixing", or "" when every PRD is valid."""
        invalid = _count(self._bridge.state, Status.INVALID)
        if not invalid:
            return ""
        return f"{pluralize(invalid, 'PRD')} need{'s' if invalid == 1 else ''} fixing"

    def _needs_review_line(self) -> str:
        """"1 needs review" (a result Overnight could not accept on its own), or ""."""
        review = _count(self._bridge.state, Status.NEEDS_REVIEW)
        return f"{review} need{'s' if review == 1 else ''} review" if review else ""

    # ------------------------------------------------------------ the user looks

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_window()

    @Slot()
    def _on_message_clicked(self) -> None:
        """A click on "Queue finished" opens the report; on any other notification, the window."""
        self.show_window()
        if "Queue finished" in self._notify.last_titles:
            self._window.views.open_report()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.WindowActivate:
            self._mark_seen()
        return False

    def _mark_seen(self) -> None:
        if self._unseen_failures:
            self._unseen_failures.clear()
            self._refresh()

    def _show_message(self, title: str, text: str, icon: MessageIcon) -> None:
        self._icon.showMessage(title, text, icon, NOTIFICATION_MS)


def _drained_text(state: QueueState) -> str:
    done = f"{_count(state, Status.COMPLETED)} completed, {_count(state, Status.FAILED)} failed"
    invalid = _count(state, Status.INVALID)
    if invalid:
        return f"{done}; {pluralize(invalid, 'invalid PRD')} waiting for a fix."
    return f"Nothing left to run: {done}."


def _count(state: QueueState, status: Status) -> int:
    return sum(1 for job in state.jobs.values() if job.status is status)


def _usage_line(usage: Usage, now: dt.datetime) -> str:
    stale = " (stale)" if usage.stale else ""
    return f"5-hour {_percent(usage.five_hour, now)} · 7-day {_percent(usage.seven_day, now)}{stale}"


def _percent(window: Window, now: dt.datetime) -> str:
    value = window.effective(now)
    return "unknown" if value is None else f"{value:.0f}%"


def _pause_line(paused: Pause) -> str:
    until = f" until {_clock(paused.resume_at)}" if paused.resume_at else ""
    return f"paused ({PAUSE_WORDS[paused.reason][0]}){until}"


def _pause_title(fields: dict[str, Any]) -> str:
    resume_at = fields.get("resumeAt")
    until = f" until {_clock(dt.datetime.fromisoformat(resume_at))}" if resume_at else ""
    return f"Queue paused{until}"


def _clock(moment: dt.datetime) -> str:
    return format_clock(moment, dt.datetime.now(dt.UTC))
