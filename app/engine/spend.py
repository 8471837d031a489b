"""The spend guard's engine side (docs/BEHAVIOUR.md section 15): it hears every run's init event
and stops at once a run whose agent would be billed per token, keeps the day's API spend
(read from history.jsonl at the start, off the loop, then added to as runs end), and ends or
sets the `spend` pause when the settings change. The decisions are app/core/spend.py."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import spend
from app.core.event_names import EventName
from app.core.outcome import StopReason
from app.core.stream import Event, Init
from app.engine.runner import AgentRun, EventSink

if TYPE_CHECKING:
    from app.engine.engine import Engine
    from app.engine.run_kinds import RunKind


class Spend:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._billed: spend.BilledRuns = {}  # today's runs billed per token, by (kind, runId)
        self._loaded = False  # history.jsonl read: only once a daily limit applies

    def rules(self) -> spend.SpendRules:
        config = self._engine.config
        return spend.SpendRules(config.spend.allow_api_billing, config.spend.max_usd_per_day, self._engine.environ,
                                config.agent.env_remove)

    def guard(self, kind: RunKind, sink: EventSink) -> EventSink:
        """`sink` for a run's events, behind the guard: an init event naming a credential billed per
        token (and API billing not allowed) stops the run before anything else hears of it."""

        def heard(run: AgentRun, events: list[Event]) -> None:
            for event in events:
                if isinstance(event, Init) and spend.stops_run(event.api_key_source, self.rules()):
                    self._stop(kind, run, event.api_key_source)
            sink(run, events)

        return heard

    def _stop(self, kind: RunKind, run: AgentRun, source: str) -> None:
        engine = self._engine
        run.stop(StopReason.SPEND)
        engine.emit(EventName.RUN_SPEND_STOPPED, "warning", slug=kind.slug, runId=kind.run_id, kind=kind.name,
                    apiKeySource=source)
        engine.set_pause(spend.source_pause(source, engine.clock.now()))

    async def load(self) -> None:
        """Today's runs billed per token, from history.jsonl (read off the loop), when a daily limit
        applies (else history.jsonl is not read: it waits for a limit set later); runs that end
        meanwhile are counted once."""
        engine = self._engine
        if not spend.limit_applies(self.rules()):
            self.review()
            return
        self._loaded = True
        since = spend.day_start(engine.clock.now(), engine.local_tz)
        billed = await asyncio.to_thread(_billed_in, engine.home.history, since)
        self._billed = {**billed, **self._billed}
        self.review()

    def ran(self, history: Mapping[str, Any]) -> None:
        """A run ended with this history line: its cost counts toward the day's when it was billed
        per token."""
        billed = spend.billed_cost(history)
        if billed is None:
            return
        engine = self._engine
        now = engine.clock.now()
        since = spend.day_start(now, engine.local_tz)
        self._billed = {key: entry for key, entry in self._billed.items() if entry[0] >= since}
        self._billed[billed[0]] = (now, billed[1])
        self.review()

    def spent_today(self) -> float:
        return spend.spent_today(self._billed, self._engine.clock.now(), self._engine.local_tz)

    def review(self) -> None:
        """After the settings or the day's spend changed: a `spend` pause that no longer holds
        ends, a daily limit reached begins one."""
        engine = self._engine
        if not self._loaded and spend.limit_applies(self.rules()):  # a limit set since the start
            self._loaded = True
            engine.background(self.load(), engine.chores)  # it reviews once the day's spend is known
            return
        paused = engine.state.paused
        after = spend.after_review(paused, self.rules(), self.spent_today(), engine.clock.now(), engine.local_tz)
        if after is paused:
            return
        if after is None:
            engine.clear_pause("the spend settings allow runs again")
        else:
            engine.set_pause(after)


def _billed_in(history: Path, since: dt.datetime) -> spend.BilledRuns:
    """Blocking: the billed runs history.jsonl holds since `since` (none when it cannot be read)."""
    try:
        with open(history, encoding="utf-8", errors="replace") as lines:
            return spend.billed_since(lines, since)
    except OSError:
        return {}
