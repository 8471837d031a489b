"""The settings dialog: one field per key of config.yaml, validated with the engine's own rules as
the user types; a bad value is marked at its field and nothing is saved until every value is good.
The default folder and the agent command must also exist (checked off the GUI thread): with a
missing one every pending PRD would turn invalid. Save says why it is off and links to the field.
The engine notices the saved file and reloads it by itself."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import (
    FIRE_POLICIES,
    NOTIFY_FORMATS,
    WHEN_UNKNOWN,
    Config,
    NotifyConfig,
    config_from_mapping,
    config_to_mapping,
    save_config,
)
from app.core.spend import SpendRules, billing_mode
from app.core.workspace import MODES as WORKSPACE_MODES
from app.doctor import agent_check
from app.engine.api import send_trial
from app.gui.desktop import in_background
from app.gui.dialogs.fields import (
    BoolField,
    ChoiceField,
    DurationField,
    Field,
    IntField,
    ListField,
    NumberField,
    PathField,
    TextField,
    folder_problem,
    program_problem,
)
from app.gui.formatting import ERROR_COLOR

# (page, key, label, how to build the field): one row per key of config.yaml (docs/BEHAVIOUR.md section 10).
PAGES = ("General", "Agent", "Investigation", "Usage meter", "Watchdogs", "Workspace", "Notifications", "Billing")
LAYOUT: tuple[tuple[str, str, str, Any], ...] = (
    ("General", "default_cwd", "Default folder",
     lambda p: PathField("default_cwd", p, "where a PRD without cwd runs; ~ is your home folder",
                         folder_problem, folder=True, empty_means="~ (your home folder)")),
    ("General", "concurrency_cap", "Concurrency cap",
     lambda p: IntField("concurrency_cap", p, "how many agents run at once (OVERNIGHT_MAX_CONCURRENCY overrides)")),
    ("General", "fire_policy", "Fire policy",
     lambda p: ChoiceField("fire_policy", p, "when new runs may start", FIRE_POLICIES)),
    ("General", "utilization_threshold", "Five-hour threshold",
     lambda p: NumberField("utilization_threshold", p, "start runs only below this five-hour utilization", " %")),
    ("General", "weekly_threshold", "Seven-day threshold",
     lambda p: NumberField("weekly_threshold", p, "start runs only below this seven-day utilization", " %")),
    ("General", "offset_minutes", "On-reset offset",
     lambda p: IntField("offset_minutes", p, "on-reset: start this long after the five-hour reset", " min")),
    ("General", "keep_finished_days", "Keep finished jobs",
     lambda p: IntField("keep_finished_days", p, "finished jobs older than this are archived", " days")),
    ("General", "retry_interrupted", "Retry interrupted runs",
     lambda p: IntField("retry_interrupted", p, "how often a run interrupted by a restart is retried")),
    ("Agent", "agent.command", "Command",
     lambda p: PathField("agent.command", p, "the claude program: a name on PATH or an absolute path",
                         program_problem, folder=False)),
    ("Agent", "agent.model", "Model", lambda p: TextField("agent.model", p, "the model of PRDs without their own")),
    ("Agent", "agent.extra_args", "Extra arguments",
     lambda p: ListField("agent.extra_args", p, "added to every agent's command line, one argument per item")),
    ("Agent", "agent.env_remove", "Remove from environment",
     lambda p: ListField("agent.env_remove", p, "environment variables the agents must not see")),
    ("Agent", "agent.resume", "Continue interrupted sessions",
     lambda p: BoolField("agent.resume", p, "a run cut short by a usage limit or a restart continues its session "
                         "instead of starting over")),
    ("Investigation", "investigation.enabled", "Investigate failures",
     lambda p: BoolField("investigation.enabled", p, "start an investigation that writes a fix plan after a failure")),
    ("Investigation", "investigation.model", "Model",
     lambda p: TextField("investigation.model", p, "the model investigations use")),
    ("Investigation", "investigation.max_concurrent", "At most at once",
     lambda p: IntField("investigation.max_concurrent", p, "investigations running at the same time")),
    ("Investigation", "investigation.max_duration", "Longest run",
     lambda p: DurationField("investigation.max_duration", p, "an investigation is stopped after this")),
    ("Investigation", "investigation.auto_run", "Run fix plans at once",
     lambda p: BoolField("investigation.auto_run", p, "off: a fix plan waits under fix-plans/ until you approve it")),
    ("Usage meter", "usage.url", "URL", lambda p: TextField("usage.url", p, "the usage meter's address")),
    ("Usage meter", "usage.poll_seconds", "Poll every",
     lambda p: DurationField("usage.poll_seconds", p, "how often the meter is read")),
    ("Usage meter", "usage.resume_margin", "Resume margin",
     lambda p: DurationField("usage.resume_margin", p, "wait this long after a usage reset before starting")),
    ("Usage meter", "usage.when_unknown", "When unknown",
     lambda p: ChoiceField("usage.when_unknown", p, "start runs (fire) or wait (hold) when usage is unknown",
                           WHEN_UNKNOWN)),
    ("Watchdogs", "watchdog.post_result_grace", "After the result",
     lambda p: DurationField("watchdog.post_result_grace", p,
                             "a run still alive this long after its result is stopped")),
    ("Watchdogs", "watchdog.kill_after", "Kill after",
     lambda p: DurationField("watchdog.kill_after", p, "SIGKILL this long after SIGTERM")),
    ("Watchdogs", "watchdog.idle", "Idle",
     lambda p: DurationField("watchdog.idle", p, "a run with no output for this long is stopped")),
    ("Watchdogs", "watchdog.max_duration", "Longest run",
     lambda p: DurationField("watchdog.max_duration", p, "a run is stopped after this")),
    ("Workspace", "workspace.mode", "Where jobs run",
     lambda p: ChoiceField("workspace.mode", p, "shared: in the PRD's folder; worktree: in a git worktree of "
                           "its own, merged when it completes", WORKSPACE_MODES)),
    ("Workspace", "workspace.branch", "Integration branch",
     lambda p: TextField("workspace.branch", p, "the branch of each repo that completed jobs are merged into")),
    ("Workspace", "workspace.verify", "Verify commands",
     lambda p: ListField("workspace.verify", p,
                         "shell commands that check a completed run; a PRD's own verify replaces them")),
    ("Workspace", "workspace.verify_timeout", "Verify timeout",
     lambda p: DurationField("workspace.verify_timeout", p, "a verify command still running after this is killed")),
    ("Notifications", "notify.url", "URL",
     lambda p: TextField("notify.url", p, "where notifications are POSTed, e.g. https://ntfy.sh/your-topic; "
                         "it may hold a secret and is never logged; empty: no notifications")),
    ("Notifications", "notify.format", "Format",
     lambda p: ChoiceField("notify.format", p, "ntfy: plain text with Title, Priority and Tags headers; "
                           "json: one object for webhook relays", NOTIFY_FORMATS)),
    ("Billing", "spend.allow_api_billing", "Allow API billing",
     lambda p: BoolField("spend.allow_api_billing", p, "off: a run whose agent would be billed per token through "
                         "an API key is stopped at once and the queue pauses")),
    ("Billing", "spend.max_usd_per_day", "Most API spend a day",
     lambda p: NumberField("spend.max_usd_per_day", p, "with API billing allowed: today's API spend that pauses "
                           "the queue until midnight; 0 = no limit", prefix="$ ", decimals=2,
                           zero="No limit")),
)


class SettingsDialog(QDialog):
    saved = Signal(object)  # Config

    def __init__(
        self, config_path: Path, config: Config, problems: Sequence[str] = (), parent: QWidget | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`environ`: the environment the engine starts agents from (how runs would be billed)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.config_path = config_path
        self.environ = dict(os.environ if environ is None else environ)
        self.fields: dict[str, Field] = {}
        self.labels: dict[str, tuple[int, str]] = {}  # key → (its tab, its label)
        self.errors: dict[str, str] = {}
        self.valid_config: Config | None = config
        self._saving = False
        self._save_error = ""
        self._checked: dict[str, tuple[Any, str | None]] = {}  # path key → (value checked, its problem)
        self._checking: dict[str, Any] = {}  # path key → the value being checked
        self._init_pages()
        self._init_buttons(problems)
        self._load(config)
        self._connect_signals()
        self.validate()

    def _init_pages(self) -> None:
        self.tabs = QTabWidget(self)
        forms = {}
        for name in PAGES:
            page = QWidget(self.tabs)
            forms[name] = QFormLayout(page)
            self.tabs.addTab(page, name)
        for page_name, key, label, build in LAYOUT:
            form = forms[page_name]
            page = form.parentWidget()
            field = build(page)
            cell = QVBoxLayout()
            cell.setSpacing(2)
            cell.addWidget(field.widget)
            cell.addWidget(field.error)
            if key == "agent.command":
                self.test_button, self.test_result, row = _test_row(
                    page, "Test", "Run the command with --version and show what it answers")
                cell.addLayout(row)
            if key == "notify.url":
                self.notify_button, self.notify_result, row = _test_row(
                    page, "Send test notification", "Send one notification to this URL and show the server's answer")
                cell.addLayout(row)
            form.addRow(f"{label}:", cell)
            self.fields[key] = field
            self.labels[key] = (PAGES.index(page_name), label)
        billing = forms["Billing"]
        self.billing_mode = QLabel(billing.parentWidget())
        self.billing_mode.setWordWrap(True)
        billing.insertRow(0, "Runs are billed:", self.billing_mode)

    def _init_buttons(self, problems: Sequence[str]) -> None:
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(bool(problems))
        if problems:
            listed = "<br>".join(escape(problem) for problem in problems)
            self.notice.setText(f"config.yaml has problems; the engine keeps its previous settings:<br>{listed}")
        self.message = QLabel(self)
        self.message.setStyleSheet(f"color: {ERROR_COLOR};")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _load(self, config: Config) -> None:
        for key, value in _flatten(config_to_mapping(config)).items():
            self.fields[key].set_value(value)

    def _connect_signals(self) -> None:
        for field in self.fields.values():
            field.changed.connect(self.validate)
        self.fields["agent.command"].changed.connect(self.test_result.clear)
        self.test_button.clicked.connect(self.test_agent)
        for key in ("notify.url", "notify.format"):
            self.fields[key].changed.connect(self.notify_result.clear)
        self.notify_button.clicked.connect(self.test_notify)
        self.message.linkActivated.connect(self.show_field)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    def mapping(self) -> dict[str, Any]:
        """The settings as config.yaml would hold them."""
        nested: dict[str, Any] = {}
        for key, field in self.fields.items():
            section, _, name = key.rpartition(".")
            (nested.setdefault(section, {}) if section else nested)[name] = field.value()
        return nested

    # ------------------------------------------------------------ validating

    def validate(self) -> bool:
        config, errors = config_from_mapping(self.mapping())
        self.valid_config = config
        self.errors = {error.key: error.describe() for error in errors}
        waiting = [key for key in self._path_keys() if key not in self.errors and not self._path_verdict(key)]
        for key, field in self.fields.items():
            field.show_error(self.errors.get(key))
        ok = config is not None and not self.errors and not waiting
        self._explain(waiting)
        self._show_billing()
        self.save_button.setEnabled(ok and not self._saving)
        if self.errors and self.height() < self.sizeHint().height():
            self.resize(self.width(), self.sizeHint().height())  # room for the messages, never smaller
        return ok

    def _show_billing(self) -> None:
        """The billing mode as the values typed so far would make it (docs/BEHAVIOUR.md section 15)."""
        limit = self.fields["spend.max_usd_per_day"].value()
        rules = SpendRules(bool(self.fields["spend.allow_api_billing"].value()), float(limit), self.environ,
                           tuple(self.fields["agent.env_remove"].value()))
        self.billing_mode.setText(billing_mode(rules))

    def changeEvent(self, event: QEvent) -> None:
        """Back from creating the missing folder or installing the agent: look at the paths again."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self._checked = {key: checked for key, checked in self._checked.items() if checked[1] is None}
            self.validate()

    def _path_keys(self) -> list[str]:
        return [key for key, field in self.fields.items() if isinstance(field, PathField)]

    def _path_verdict(self, key: str) -> bool:
        """Whether the path's check has answered for its current value (a problem goes to `errors`);
        if not, the check is started off the GUI thread."""
        field = self.fields[key]
        assert isinstance(field, PathField)
        value = field.value()
        checked = self._checked.get(key)
        if checked is not None and checked[0] == value:
            if checked[1] is not None:
                self.errors[key] = checked[1]
            return True
        if self._checking.get(key) != value:
            self._checking[key] = value
            check = field.check
            in_background(lambda: _run_check(key, value, check), self._path_checked)
        return False

    def _path_checked(self, result: tuple[str, Any, str | None] | None, _error: BaseException | None) -> None:
        if result is None:
            return
        key, value, problem = result
        self._checked[key] = (value, problem)
        if self._checking.get(key) == value:
            del self._checking[key]
        self.validate()
        if problem is not None and key in self.errors and self.labels[key][0] != self.tabs.currentIndex():
            self.show_field(key)

    def _explain(self, waiting: list[str]) -> None:
        """Why Save is off, in the message (each setting a link to its field), its tooltip, and the tabs' icons."""
        reasons = list(self.errors.items())
        reasons += [(key, "checking…") for key in waiting]
        plain = [f"{self._where(key)}: {problem}" if key in self.labels else problem for key, problem in reasons]
        html = [f'<a href="{escape(key)}">{escape(self._where(key))}</a>: {escape(problem)}' if key in self.labels
                else escape(problem) for key, problem in reasons]
        heading = []
        if reasons:
            heading = ["Save is off until these are fixed:" if self.errors else "Save waits for these checks:"]
        saving = [self._save_error] if self._save_error else []
        self.message.setText("<br>".join([escape(line) for line in saving + heading] + html))
        self.save_button.setToolTip("\n".join(heading + plain))
        pages_with_errors = {self.labels[key][0] for key in self.errors if key in self.labels}
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for index in range(self.tabs.count()):
            self.tabs.setTabIcon(index, warning if index in pages_with_errors else QIcon())

    def _where(self, key: str) -> str:
        page, label = self.labels[key]
        return f"{PAGES[page]} → {label}"

    def show_field(self, key: str) -> None:
        """Bring a setting's tab to the front, its editor focused."""
        if key in self.fields:
            self.tabs.setCurrentIndex(self.labels[key][0])
            self.fields[key].editor.setFocus()

    # ------------------------------------------------------------ the agent's test

    def test_agent(self) -> None:
        """`<command> --version`, off the GUI thread; the answer or the error shows beside Test."""
        command = str(self.fields["agent.command"].value()).strip()
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"running {command} --version…")
        in_background(lambda: agent_check(command), self._tested)

    def _tested(self, result: tuple[bool, str] | None, error: BaseException | None) -> None:
        answer = (result[0], result[1].removeprefix("agent: ")) if result is not None else None
        _show_answer(self.test_button, self.test_result, answer, f"the command could not be run ({error})")

    # ------------------------------------------------------------ the notifications' test

    def test_notify(self) -> None:
        """One notification to the URL and in the format as typed, sent off the GUI thread; the
        server's answer (its status code) or the error shows beside the button."""
        problem = self.errors.get("notify.url")
        notify = NotifyConfig(url=str(self.fields["notify.url"].value()).strip(),
                              format=self.fields["notify.format"].value())
        if problem is not None or not notify.url:
            self.notify_result.setStyleSheet(f"color: {ERROR_COLOR};")
            self.notify_result.setText(problem or "enter a URL first")
            return
        self.notify_button.setEnabled(False)
        self.notify_result.setStyleSheet("")
        self.notify_result.setText("sending…")
        in_background(lambda: send_trial(notify), self._notify_tested)

    def _notify_tested(self, result: tuple[bool, str] | None, error: BaseException | None) -> None:
        _show_answer(self.notify_button, self.notify_result, result, f"not sent ({error})")

    # ------------------------------------------------------------ saving

    def save(self) -> None:
        """Write config.yaml when every value is good; the dialog closes once it is written."""
        self._save_error = ""
        if self._saving or not self.validate() or self.valid_config is None:
            return
        config, path = self.valid_config, self.config_path
        self._saving = True
        self.save_button.setEnabled(False)
        in_background(lambda: save_config(path, config), self._written)

    def _written(self, _result: object, error: BaseException | None) -> None:
        self._saving = False
        if error is not None:
            self._save_error = f"config.yaml could not be saved: {error}"
            self.validate()
            return
        self.saved.emit(self.valid_config)
        self.accept()


def _test_row(page: QWidget, text: str, tooltip: str) -> tuple[QPushButton, QLabel, QHBoxLayout]:
    """A button that tries a setting out, and beside it the label its answer shows in."""
    button = QPushButton(text, page)
    button.setToolTip(tooltip)
    answer = QLabel(page)
    answer.setWordWrap(True)
    row = QHBoxLayout()
    row.addWidget(button)
    row.addWidget(answer, 1)
    return button, answer, row


def _show_answer(button: QPushButton, label: QLabel, result: tuple[bool, str] | None, failed: str) -> None:
    """A try's answer beside its button (in the error colour when it did not work); the button works again."""
    button.setEnabled(True)
    fine, words = result if result is not None else (False, failed)
    label.setStyleSheet("" if fine else f"color: {ERROR_COLOR};")
    label.setText(words)


def _run_check(key: str, value: Any, check: Callable[[Any], str | None]) -> tuple[str, Any, str | None]:
    """Blocking: (key, value, what is wrong with the path or None)."""
    try:
        return key, value, check(value)
    except (OSError, ValueError) as exc:
        return key, value, f"{value} could not be checked: {exc}"


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat
