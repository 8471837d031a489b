"""Short texts for people: a long value cut with an ellipsis, a count with its noun."""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, keep: int, mark: str = ELLIPSIS) -> str:
    """`text` if it has at most `keep` characters, else its start and `mark`, `keep` in all."""
    return text if len(text) <= keep else text[: keep - len(mark)] + mark


def one_line(text: str, keep: int) -> str:
    """`text` with every run of whitespace (newlines too) made one space, then shortened."""
    return shorten(" ".join(text.split()), keep)


def pluralize(count: int, noun: str) -> str:
    """"1 turn", "2 turns", "0 turns": the count with its noun, plural unless it is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def session_words(resumed_from: str | None, will_continue: str | None) -> str:
    """How a job's run stands to an earlier run's agent session, as the window and `overnight status`
    say it: "resumed from run X" for a run that continues run X's session, "will continue run X's
    session" for a job whose next run will; "" for neither."""
    if resumed_from is not None:
        return f"resumed from run {resumed_from}"
    if will_continue is not None:
        return f"will continue run {will_continue}'s session"
    return ""
