"""Titan's own stops on a venue with no stop orders (MEXC spot), and the price feed they need.

Every `poll_s` (at most a second) the venue's prices are read over REST. A position whose
stop the price has reached is closed through the one door (an EXIT intent, origin
TITAN_STOP). A feed older than `stale_after_s` cannot protect anything: the venue goes to
DEGRADE with API_LAG (no new entries) and, while positions are open, an alert is raised.

A Titan-side stop acts only while Titan runs: the README says so plainly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from titan_common.clock import now_ms
from titan_common.exchanges import ExchangeError
from titan_common.messages import IntentKind, IntentState
from titan_common.reasons import ReasonCode
from titan_execution.core.titan_stops import crossed_stops, feed_is_stale
from titan_execution.runtime import store
from titan_execution.runtime.engine import ExecutionEngine
from titan_execution.runtime.protection import CLOSE_ACCEPTED, ensure_protected, raise_alert

log = logging.getLogger(__name__)
ORIGIN = "TITAN_STOP"
# after an exit went out, the same position is not closed again for this long (its fill
# comes with the next fill poll); if it is still open then, the rest is closed
EXIT_GRACE_MS = 10_000
UNFINISHED = (IntentState.SENT_UNKNOWN, IntentState.CONFIRMED, IntentState.PARTIALLY_FILLED)
# an exit refused before it reached the venue: safe to send again (after the grace)
REFUSED = frozenset({IntentState.REJECTED, IntentState.FAILED_TERMINAL})


class TitanStops:
    def __init__(
        self,
        engine: ExecutionEngine,
        *,
        set_reason: Callable[[ReasonCode, bool], None],
        stale_after_s: float,
    ) -> None:
        self.engine = engine
        self.set_reason = set_reason
        self.stale_after_ms = int(stale_after_s * 1000)
        self.last_price_ms: int | None = None
        self.prices: dict[str, Decimal] = {}
        self.exiting: dict[str, int] = {}  # symbol -> when its exit went out
        self.alerted = False

    @property
    def stale(self) -> bool:
        return feed_is_stale(self.last_price_ms, now_ms(), self.stale_after_ms)

    async def guard(self, symbols: set[str]) -> None:
        """Give every open position in `symbols` its stop (the entry's, else one at the adopted
        distance): ensure_protected's spot path, after fills like the venue-side protection."""
        for position in await self.engine.venue_positions():
            if position.symbol in symbols:
                await ensure_protected(self.engine, position)

    async def tick(self) -> None:
        """One look at the prices: marks, stops crossed, and the feed's age."""
        engine = self.engine
        try:
            tickers = await engine.adapter.tickers()
        except ExchangeError as exc:
            log.warning("price poll failed: %s", exc)
        else:
            self.prices = {t.symbol: t.last_price for t in tickers if t.last_price > 0}
            self.last_price_ms = now_ms()
        stale = self.stale
        self.set_reason(ReasonCode.API_LAG, stale)
        open_positions = engine.book.open_positions()
        if stale:
            if open_positions and not self.alerted:
                self.alerted = True
                age = (
                    "none yet" if self.last_price_ms is None else f"{(now_ms() - self.last_price_ms) / 1000:.1f} s old"
                )
                log.error("price feed stale (%s): Titan-side stops cannot act", age)
                for position in open_positions:
                    await raise_alert(
                        engine, position.symbol, ReasonCode.API_LAG, f"price feed stale ({age}): its stop cannot act"
                    )
            return
        self.alerted = False
        marks = {p.symbol: self.prices[p.symbol] for p in open_positions if p.symbol in self.prices}
        if marks:
            await engine.mark_to_market(marks)
        await self._close_crossed()

    async def _close_crossed(self) -> None:
        engine = self.engine
        now = now_ms()
        for hit in crossed_stops(engine.book.open_positions(), self.prices):
            if now - self.exiting.get(hit.symbol, 0) < EXIT_GRACE_MS or await self._exit_open(hit.symbol):
                continue  # an exit is on its way: a second one would sell coins that are not Titan's
            self.exiting[hit.symbol] = now
            log.warning("%s stop %s crossed at %s: closing %s", hit.symbol, hit.stop, hit.price, hit.size)
            outcome = await engine.exit_position(
                hit.symbol, hit.side, hit.size, origin=ORIGIN, reference_price=hit.price
            )
            if outcome.state in REFUSED:
                # nothing reached the venue: tried again after the grace, not at every tick
                log.error("stop exit of %s refused: %s %s %s", hit.symbol, outcome.state, outcome.reasons,
                          outcome.detail)  # fmt: skip
            elif outcome.state not in CLOSE_ACCEPTED:
                log.warning("stop exit of %s: %s, resolved by query", hit.symbol, outcome.state)

    async def _exit_open(self, symbol: str) -> bool:
        """An exit of `symbol` sent and not finished (unknown, confirmed, partly filled)."""
        async with self.engine.sessions() as session:
            rows = await store.intents_in(session, self.engine.config.exchange, *UNFINISHED)
        return any(row.symbol == symbol and row.kind == IntentKind.EXIT.value for row in rows)
