"""The tray's notifications, grouped: what happens within a few seconds of the first becomes one
notification ("2 failed, 1 fix plan written") instead of each replacing the one before
(docs/BEHAVIOUR.md section 12)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QSystemTrayIcon

MessageIcon = QSystemTrayIcon.MessageIcon
Notify = Callable[[str, str, MessageIcon], None]
GROUP_MS = 3000

# The start of a notification's title: its words in a group's title, for one and for several
# (None: said once, without a count).
KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("Job failed", "failed", "failed"),
    ("PRD needs fixing", "PRD needs fixing", "PRDs need fixing"),
    ("Fix plan written", "fix plan written", "fix plans written"),
    ("Fix plan awaiting approval", "fix plan awaiting approval", "fix plans awaiting approval"),
    ("Queue paused", "queue paused", None),
    ("Queue finished", "queue finished", None),
)


class GroupedNotify(QObject):
    """Called like `notify`; hands `notify` one notification per group. `window_ms` 0 hands each on at once."""

    def __init__(self, notify: Notify, window_ms: int = GROUP_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._notify = notify
        self._window_ms = window_ms
        self._pending: list[tuple[str, str, MessageIcon]] = []
        self.last_titles: list[str] = []  # the titles in the notification shown last
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(window_ms)
        self._timer.timeout.connect(self._flush)

    def __call__(self, title: str, text: str, icon: MessageIcon) -> None:
        self._pending.append((title, text, icon))
        if not self._window_ms:
            self._flush()
        elif not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        self.last_titles = [title for title, _text, _icon in pending]
        if len(pending) == 1:
            self._notify(*pending[0])
            return
        icon = max((icon for _title, _text, icon in pending), key=lambda icon: icon.value)
        self._notify(group_title(self.last_titles), "\n".join(self.last_titles), icon)


def group_title(titles: list[str]) -> str:
    """"2 failed, 1 fix plan written": how many of each kind, in the order they came."""
    counts: dict[tuple[str, str | None], int] = {}
    for title in titles:
        words = next(((one, several) for start, one, several in KINDS if title.startswith(start)), (title, None))
        counts[words] = counts.get(words, 0) + 1
    parts = []
    for (one, several), count in counts.items():
        parts.append(one if several is None else f"{count} {one if count == 1 else several}")
    return ", ".join(parts)
