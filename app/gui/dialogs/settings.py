"""The settings dialog: one field per key of config.yaml, validated with the engine's own rules as
the user types; a bad value is marked at its field and nothing is saved until every value is good.
The engine notices the saved file and reloads it by itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import (
    FIRE_POLICIES,
    WHEN_UNKNOWN,
    Config,
    config_from_mapping,
    config_to_mapping,
    save_config,
)
from app.gui.desktop import in_background
from app.gui.formatting import ERROR_COLOR

# Wider than what is allowed, so an out-of-range value is explained by the engine's rule, not silently clamped.
NUMBER_LIMIT = 10_000_000


class Field(QObject):
    """One setting's editor: reads and writes a plain value, says when it changed, shows its error."""

    changed = Signal()

    def __init__(self, key: str, editor: QWidget, help_text: str) -> None:
        super().__init__(editor)
        self.key = key
        self.editor = editor
        self.error = QLabel(editor.parentWidget())
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        editor.setToolTip(help_text)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def show_error(self, message: str | None) -> None:
        self.error.setVisible(message is not None)
        self.error.setText(message or "")
        outline = f"{type(self.editor).__name__} {{ border: 1px solid {ERROR_COLOR}; }}"
        self.editor.setStyleSheet(outline if message is not None else "")


class TextField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, empty_means: str = "") -> None:
        line = QLineEdit(parent)
        line.setPlaceholderText(empty_means)
        super().__init__(key, line, help_text)
        self.line = line
        self._empty_is_none = bool(empty_means)
        self.line.textChanged.connect(self.changed)

    def value(self) -> Any:
        text = self.line.text()
        return None if self._empty_is_none and not text.strip() else text

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))


class IntField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, suffix: str = "") -> None:
        spin = QSpinBox(parent)
        spin.setRange(0, NUMBER_LIMIT)
        spin.setSuffix(suffix)
        super().__init__(key, spin, help_text)
        self.spin = spin
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> Any:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))


class NumberField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, suffix: str = "") -> None:
        spin = QDoubleSpinBox(parent)
        spin.setRange(0, NUMBER_LIMIT)
        spin.setDecimals(1)
        spin.setSuffix(suffix)
        super().__init__(key, spin, help_text)
        self.spin = spin
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> Any:
        number = self.spin.value()
        return int(number) if number.is_integer() else number

    def set_value(self, value: Any) -> None:
        self.spin.setValue(float(value))


class ChoiceField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str, choices: Sequence[str]) -> None:
        combo = QComboBox(parent)
        combo.addItems(list(choices))
        super().__init__(key, combo, help_text)
        self.combo = combo
        self.combo.currentTextChanged.connect(self.changed)

    def value(self) -> Any:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentText(str(value))


class BoolField(Field):
    def __init__(self, key: str, parent: QWidget, help_text: str) -> None:
        check = QCheckBox(parent)
        super().__init__(key, check, help_text)
        self.check = check
        self.check.toggled.connect(self.changed)

    def value(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class ListField(Field):
    """A list of strings: double-click an item to edit it; Add and Remove beside the list."""

    def __init__(self, key: str, parent: QWidget, help_text: str) -> None:
        box = QWidget(parent)
        super().__init__(key, box, help_text)
        self.items = QListWidget(box)
        self.items.setMaximumHeight(90)
        self.add_button = QPushButton("Add", box)
        self.remove_button = QPushButton("Remove", box)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.items, 1)
        layout.addLayout(buttons)
        self.items.itemChanged.connect(self.changed)
        self.items.model().rowsRemoved.connect(self.changed)
        self.add_button.clicked.connect(self.add_item)
        self.remove_button.clicked.connect(self.remove_current)

    def value(self) -> Any:
        return [self.items.item(row).text() for row in range(self.items.count())]

    def set_value(self, value: Any) -> None:
        self.items.clear()
        for text in value:
            self._append(str(text))

    def add_item(self, text: str = "") -> None:
        item = self._append(text if isinstance(text, str) else "")
        self.items.setCurrentItem(item)
        self.items.editItem(item)
        self.changed.emit()

    def remove_current(self) -> None:
        row = self.items.currentRow()
        if row >= 0:
            self.items.takeItem(row)

    def _append(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.items.addItem(item)
        return item

    def show_error(self, message: str | None) -> None:
        super().show_error(message)
        outline = f"QListWidget {{ border: 1px solid {ERROR_COLOR}; }}"
        self.items.setStyleSheet(outline if message is not None else "")
        self.editor.setStyleSheet("")


# (page, key, label, how to build the field): one row per key of config.yaml (docs/BEHAVIOUR.md section 10).
SECONDS = " s"
PAGES = ("General", "Agent", "Investigation", "Usage meter", "Watchdogs")
LAYOUT: tuple[tuple[str, str, str, Any], ...] = (
    ("General", "default_cwd", "Default folder",
     lambda p: TextField("default_cwd", p, "where a PRD without cwd runs; ~ is your home folder",
                         empty_means="~ (your home folder)")),
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
     lambda p: TextField("agent.command", p, "the claude program: a name on PATH or an absolute path")),
    ("Agent", "agent.model", "Model", lambda p: TextField("agent.model", p, "the model of PRDs without their own")),
    ("Agent", "agent.extra_args", "Extra arguments",
     lambda p: ListField("agent.extra_args", p, "added to every agent's command line, one argument per item")),
    ("Agent", "agent.env_remove", "Remove from environment",
     lambda p: ListField("agent.env_remove", p, "environment variables the agents must not see")),
    ("Investigation", "investigation.enabled", "Investigate failures",
     lambda p: BoolField("investigation.enabled", p, "start an investigation that writes a fix plan after a failure")),
    ("Investigation", "investigation.model", "Model",
     lambda p: TextField("investigation.model", p, "the model investigations use")),
    ("Investigation", "investigation.max_concurrent", "At most at once",
     lambda p: IntField("investigation.max_concurrent", p, "investigations running at the same time")),
    ("Investigation", "investigation.max_duration", "Longest run",
     lambda p: NumberField("investigation.max_duration", p, "an investigation is stopped after this", SECONDS)),
    ("Investigation", "investigation.auto_run", "Run fix plans at once",
     lambda p: BoolField("investigation.auto_run", p, "off: a fix plan waits under fix-plans/ until you approve it")),
    ("Usage meter", "usage.url", "URL", lambda p: TextField("usage.url", p, "the usage meter's address")),
    ("Usage meter", "usage.poll_seconds", "Poll every",
     lambda p: NumberField("usage.poll_seconds", p, "how often the meter is read", SECONDS)),
    ("Usage meter", "usage.resume_margin", "Resume margin",
     lambda p: NumberField("usage.resume_margin", p, "wait this long after a usage reset before starting", SECONDS)),
    ("Usage meter", "usage.when_unknown", "When unknown",
     lambda p: ChoiceField("usage.when_unknown", p, "start runs (fire) or wait (hold) when usage is unknown",
                           WHEN_UNKNOWN)),
    ("Watchdogs", "watchdog.post_result_grace", "After the result",
     lambda p: NumberField("watchdog.post_result_grace", p, "a run still alive this long after its result is stopped",
                           SECONDS)),
    ("Watchdogs", "watchdog.kill_after", "Kill after",
     lambda p: NumberField("watchdog.kill_after", p, "SIGKILL this long after SIGTERM", SECONDS)),
    ("Watchdogs", "watchdog.idle", "Idle",
     lambda p: NumberField("watchdog.idle", p, "a run with no output for this long is stopped", SECONDS)),
    ("Watchdogs", "watchdog.max_duration", "Longest run",
     lambda p: NumberField("watchdog.max_duration", p, "a run is stopped after this", SECONDS)),
)


class SettingsDialog(QDialog):
    saved = Signal(object)  # Config

    def __init__(
        self, config_path: Path, config: Config, problems: Sequence[str] = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.config_path = config_path
        self.fields: dict[str, Field] = {}
        self.errors: dict[str, str] = {}
        self.valid_config: Config | None = config
        self._saving = False
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
            cell.addWidget(field.editor)
            cell.addWidget(field.error)
            form.addRow(f"{label}:", cell)
            self.fields[key] = field

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
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    def mapping(self) -> dict[str, Any]:
        """The settings as config.yaml would hold them."""
        nested: dict[str, Any] = {}
        for key, field in self.fields.items():
            section, _, name = key.rpartition(".")
            (nested.setdefault(section, {}) if section else nested)[name] = field.value()
        return nested

    def validate(self) -> bool:
        config, errors = config_from_mapping(self.mapping())
        self.valid_config = config
        self.errors = {error.key: error.describe() for error in errors}
        for key, field in self.fields.items():
            field.show_error(self.errors.get(key))
        others = [error for error in errors if error.key not in self.fields]
        self.message.setText("\n".join(error.describe() for error in others))
        self.save_button.setEnabled(config is not None and not self._saving)
        return config is not None

    def save(self) -> None:
        """Write config.yaml when every value is good; the dialog closes once it is written."""
        if self._saving or not self.validate() or self.valid_config is None:
            return
        config, path = self.valid_config, self.config_path
        self._saving = True
        self.save_button.setEnabled(False)
        in_background(lambda: save_config(path, config), self._written)

    def _written(self, _result: object, error: BaseException | None) -> None:
        self._saving = False
        if error is not None:
            self.message.setText(f"config.yaml could not be saved: {error}")
            self.validate()
            return
        self.saved.emit(self.valid_config)
        self.accept()


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat
