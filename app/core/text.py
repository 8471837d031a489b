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
