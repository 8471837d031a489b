"""The spend guard (docs/BEHAVIOUR.md section 15): a run that would be billed per token (an API
key) instead of the subscription is stopped and the queue pauses `spend`; with API billing
allowed, the day's API spend may pause it until local midnight. Pure decisions; the engine's
side is app/engine/spend.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.agent import agent_env
from app.core.gate import pause_with
from app.core.queue import Pause, PauseReason
from app.core.times import timed_record

SUBSCRIPTION = "none"  # the init event's apiKeySource when the subscription login pays
# Variables in the agent's environment that make the CLI bill per token (doctor warns of them).
API_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
ALLOW_SETTING = "spend.allow_api_billing"
LIMIT_SETTING = "spend.max_usd_per_day"


@dataclass(frozen=True, slots=True)
class SpendRules:
    """The settings the guard follows, and what it needs to know of the agent's environment."""

    allow_api_billing: bool
    max_usd_per_day: float  # 0: no limit
    environ: Mapping[str, str]  # the environment Overnight starts agents from
    env_remove: tuple[str, ...]  # agent.env_remove


def bills_per_token(source: str | None) -> bool:
    """The init event's `apiKeySource` names a credential other than the subscription ("" and
    None: the CLI did not say, which is not taken as billing)."""
    return bool(source) and source != SUBSCRIPTION


def stops_run(source: str | None, rules: SpendRules) -> bool:
    """A run whose agent bills `source` is stopped at once unless API billing is allowed."""
    return bills_per_token(source) and not rules.allow_api_billing


def fixes(variable: str) -> str:
    """The three ways out, for a credential that `variable` names."""
    return (f"unset {variable} in the environment Overnight starts from, list it in agent.env_remove "
            f"(Settings or config.yaml), or set {ALLOW_SETTING}: true to allow billing per token")


_SOURCE_PAUSE = "a run was stopped at once: it would be billed per token through {source} instead of your subscription"
_SOURCE_IN_PAUSE = re.compile(r"billed per token through (.+?) instead of your subscription")


def billing_variables(environ: Mapping[str, str], env_remove: Iterable[str]) -> list[str]:
    """The variables of `environ` that would reach an agent and make it bill per token."""
    removed = set(env_remove)
    return [name for name in API_KEY_VARIABLES if environ.get(name) and name not in removed]


def billing_warning(variable: str, allow_api_billing: bool) -> str:
    """What `overnight doctor` says of such a variable (never its value)."""
    if variable == "ANTHROPIC_AUTH_TOKEN":
        # The CLI sends it in place of the subscription login, and its init event still says "none".
        what = ("the agent sends it instead of your subscription login, and the spend guard cannot see that "
                "(Claude Code reports the subscription)")
    elif allow_api_billing:
        what = f"runs are billed per token through it ({ALLOW_SETTING} is true)"
    else:
        what = "every run would be stopped at once (it would be billed per token) and the queue would pause"
    return f"billing: {variable} is set — {what}; to fix it, {fixes(variable)}"


def billing_mode(rules: SpendRules) -> str:
    """How runs would be billed with these settings, in words (the settings dialog shows it)."""
    found = billing_variables(rules.environ, rules.env_remove)
    if API_KEY_VARIABLES[0] in found:
        if not rules.allow_api_billing:
            return f"API key in the environment ({API_KEY_VARIABLES[0]}): runs are stopped at once"
        limit = f"up to ${rules.max_usd_per_day:.2f} a day" if rules.max_usd_per_day > 0 else "with no daily limit"
        return f"API billing allowed ({API_KEY_VARIABLES[0]}): runs are billed per token, {limit}"
    if found:
        return f"{found[0]} in the environment: the agent uses it instead of your subscription login"
    return "Subscription: runs use your Claude subscription"


def source_pause(source: str, now: dt.datetime) -> Pause:
    """The pause after a run was stopped for billing `source`."""
    return Pause(PauseReason.SPEND, now, None,
                 f"{_SOURCE_PAUSE.format(source=source)}. To fix it, {fixes(source)}; "
                 "the queue starts by itself after either of the last two")


def paused_source(paused: Pause | None) -> str | None:
    """The credential a spend pause was made for (read back from the words `source_pause` wrote),
    or None when it is not such a pause."""
    if paused is None or paused.reason is not PauseReason.SPEND:
        return None
    found = _SOURCE_IN_PAUSE.search(paused.message)
    return found.group(1) if found else None


def still_billed(source: str, rules: SpendRules) -> bool:
    """Whether the next run would still be stopped for `source`: not when API billing is now
    allowed, nor when `source` is a variable of Overnight's environment that agent.env_remove
    now keeps from the agent."""
    if rules.allow_api_billing:
        return False
    return not (source in rules.environ and source not in agent_env(rules.environ, rules.env_remove, ""))


# ---------------------------------------------------------------- the day's API spend


def day_start(now: dt.datetime, local_tz: dt.tzinfo) -> dt.datetime:
    """The local midnight that began `now`'s calendar day."""
    return dt.datetime.combine(now.astimezone(local_tz).date(), dt.time(), tzinfo=local_tz)


def next_midnight(now: dt.datetime, local_tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(now.astimezone(local_tz).date() + dt.timedelta(days=1), dt.time(), tzinfo=local_tz)


def billed_cost(record: Mapping[str, Any]) -> tuple[tuple[str, str], float] | None:
    """A history line's run that was billed per token: its (kind, runId) and its cost in USD;
    None for any other line."""
    cost = record.get("costUsd")
    if record.get("event") != "run.finished" or not bills_per_token(record.get("apiKeySource")):
        return None
    if not isinstance(cost, (int, float)) or isinstance(cost, bool):
        return None
    return (str(record.get("kind")), str(record.get("runId"))), float(cost)


BilledRuns = dict[tuple[str, str], tuple[dt.datetime, float]]


def billed_since(lines: Iterable[str], since: dt.datetime) -> BilledRuns:
    """The runs billed per token that history.jsonl's `lines` say ended at or after `since`
    (unreadable lines are passed over)."""
    billed: BilledRuns = {}
    for line in lines:
        timed = timed_record(line)
        if timed is None or timed[0] < since:
            continue
        run = billed_cost(timed[1])
        if run is not None:
            billed[run[0]] = (timed[0], run[1])
    return billed


def spent_today(billed: BilledRuns, now: dt.datetime, local_tz: dt.tzinfo) -> float:
    start = day_start(now, local_tz)
    return sum(cost for moment, cost in billed.values() if moment >= start)


def limit_applies(rules: SpendRules) -> bool:
    """A daily limit on API spend holds: API billing is allowed and the limit is above 0."""
    return rules.allow_api_billing and rules.max_usd_per_day > 0


def limit_reached(spent: float, rules: SpendRules) -> bool:
    return limit_applies(rules) and spent >= rules.max_usd_per_day


def limit_pause(spent: float, rules: SpendRules, now: dt.datetime, local_tz: dt.tzinfo) -> Pause:
    """The pause until local midnight once the day's API spend reached the limit."""
    return Pause(PauseReason.SPEND, now, next_midnight(now, local_tz),
                 f"today's API spend ${spent:.2f} reached {LIMIT_SETTING} (${rules.max_usd_per_day:.2f}); runs start "
                 f"again at midnight, or raise {LIMIT_SETTING} (0 = no limit)")


def after_review(paused: Pause | None, rules: SpendRules, spent: float, now: dt.datetime,
                 local_tz: dt.tzinfo) -> Pause | None:
    """The pause once the settings or the day's spend changed: a spend pause for a credential ends
    when the next run would not bill it; one for the day's limit when the limit no longer holds;
    a limit reached pauses the queue (unless a stronger pause stands). Other pauses stay as they are."""
    source = paused_source(paused)
    if source is not None:
        if still_billed(source, rules):
            return paused
        paused = None
    reached = limit_reached(spent, rules)
    if paused is not None and paused.reason is PauseReason.SPEND:
        return paused if reached else None
    return pause_with(paused, limit_pause(spent, rules, now, local_tz)) if reached else paused
