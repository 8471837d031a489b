"""Short texts for people: a long value cut with an ellipsis, a count with its noun, the engine's
and the Claude CLI's internal names in words."""

from __future__ import annotations

import re

ELLIPSIS = "…"

# Names the engine and the Claude CLI write that a person should not have to decode. (Config keys
# and values stay as written: a problem with config.yaml must name what to change there.)
_PLAIN = {
    "error_max_turns": "stopped at the turn limit",
    "error_max_budget_usd": "stopped at the budget limit",
    "error_during_execution": "error during the run",
    "result: success": "finished",
    "rate_limited": "usage limit",
    "rate_limit": "usage limit",
    "five_hour": "five-hour",
    "seven_day": "seven-day",
}
_NAMES = re.compile("|".join(re.escape(name) for name in sorted(_PLAIN, key=len, reverse=True)))


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


def plain_names(text: str) -> str:
    """`text` from the engine with its internal names (`error_max_turns`, `rate_limit`…) in words."""
    return _NAMES.sub(lambda found: _PLAIN[found.group(0)], text)
