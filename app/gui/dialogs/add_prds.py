"""Adding PRD files to the queue from the window (drop or "Add files…"), as `overnight add` does:
validated and copied into prds/ on a worker thread. Files whose names have no NN- prefix get one;
a small dialog asks which group. Refused files are listed with why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.config import Config
from app.core.prd import DEFAULT_GROUP, MAX_PRD_BYTES, Prd, has_group_prefix, parse_prd
from app.engine.api import Added, Refused, add_prds, expand
from app.gui.desktop import in_background
from app.paths import Home, read_regular_file


@dataclass(frozen=True, slots=True)
class Survey:
    """The dropped paths sorted out before anything is copied."""

    numbered: list[Path]  # names that carry their group
    unnumbered: list[Path]  # names that need an NN- prefix
    suggested_group: int  # from the first unnumbered file's frontmatter, else 99
    refused: list[Refused]


def survey(paths: Sequence[Path], config: Config) -> Survey:
    """Blocking (reads the files): run it on a worker thread."""
    numbered, unnumbered, refused = [], [], []
    for path in expand(paths):
        if path.suffix != ".md":
            refused.append(Refused(path, f"{path}: not a .md file"))
        elif has_group_prefix(path.name):
            numbered.append(path)
        else:
            unnumbered.append(path)
    suggested = _frontmatter_group(unnumbered[0], config) if unnumbered else DEFAULT_GROUP
    return Survey(numbered, unnumbered, suggested, refused)


def _frontmatter_group(path: Path, config: Config) -> int:
    data = read_regular_file(path, MAX_PRD_BYTES).data
    if data is None:
        return DEFAULT_GROUP
    parsed = parse_prd(path.name, data, path=str(path), default_cwd=config.resolved_default_cwd(),
                       default_model=config.agent.model, is_dir=lambda _path: True)
    return parsed.group if isinstance(parsed, Prd) else DEFAULT_GROUP


def copy_surveyed(home: Home, config: Config, found: Survey, group: int) -> list[Added | Refused]:
    """Blocking: numbered files keep their names, the others get `group` as their prefix."""
    return [
        *found.refused,
        *add_prds(home, config, found.numbered),
        *add_prds(home, config, found.unnumbered, group=group),
    ]


class GroupDialog(QDialog):
    """Asks the group for files whose names do not start with one."""

    def __init__(self, names: Sequence[str], suggested: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Group for the new PRDs")
        listed = "<br>".join(escape(name) for name in names[:10]) + ("<br>…" if len(names) > 10 else "")
        text = QLabel(
            f"These files have no group number at the start of their names:<br>{listed}<br><br>"
            "They will be copied as <i>NN-name.md</i>; lower groups run first.",
            self,
        )
        text.setWordWrap(True)
        self.group = QSpinBox(self)
        self.group.setRange(0, 999)
        self.group.setValue(suggested)
        self.group.setPrefix("group ")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.group)
        layout.addWidget(buttons)


class AddPrdsFlow(QObject):
    """Survey → ask the group when needed → copy → report. Each step off the GUI thread or non-modal."""

    finished = Signal(list)  # list[Added | Refused]
    failed = Signal(str)

    def __init__(self, home: Home, config: Callable[[], Config], parent: QWidget) -> None:
        super().__init__(parent)
        self.home = home
        self._config = config
        self._window = parent
        self.group_dialog: GroupDialog | None = None
        self.refused_box: QMessageBox | None = None

    def start(self, paths: Sequence[Path]) -> None:
        config = self._config()
        in_background(lambda: survey(list(paths), config), self._surveyed)

    def _surveyed(self, found: Survey | None, error: BaseException | None) -> None:
        if found is None:
            self.failed.emit(f"the files could not be read: {error}")
            return
        if not found.unnumbered:
            self._copy(found, DEFAULT_GROUP)
            return
        dialog = GroupDialog([path.name for path in found.unnumbered], found.suggested_group, self._window)
        dialog.accepted.connect(lambda: self._copy(found, dialog.group.value()))
        dialog.finished.connect(dialog.deleteLater)
        self.group_dialog = dialog
        dialog.open()

    def _copy(self, found: Survey, group: int) -> None:
        self.group_dialog = None
        home, config = self.home, self._config()
        in_background(lambda: copy_surveyed(home, config, found, group), self._copied)

    def _copied(self, results: list[Added | Refused] | None, error: BaseException | None) -> None:
        if results is None:
            self.failed.emit(f"the files could not be added: {error}")
            return
        self.finished.emit(results)
        refused = [result for result in results if isinstance(result, Refused)]
        if refused:
            self._show_refused(refused, len(results) - len(refused))

    def _show_refused(self, refused: Sequence[Refused], added: int) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Some files were not added",
                          f"{len(refused)} file(s) refused, {added} added.", QMessageBox.StandardButton.Ok,
                          self._window)
        box.setInformativeText("\n\n".join(refused_item.reason for refused_item in refused))
        box.finished.connect(box.deleteLater)
        self.refused_box = box
        box.open()
