"""Funding: the rate's history, and the payment between longs and shorts every eight hours."""

from __future__ import annotations

from decimal import Decimal

from titan_sim.core.model import ZERO, Execution, FundingRecord
from titan_sim.core.state import VenueState

FUNDING_INTERVAL_MS = 8 * 3_600_000
BACKFILLED_INTERVALS = 21  # a week of history at the start


def next_funding_after(now_ms: int) -> int:
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


class Funding:
    def __init__(self, state: VenueState) -> None:
        self.state = state

    def backfill(self, symbol: str) -> None:
        """The past week's rates, drawn from the symbol's market generator."""
        state = self.state
        rng = state.markets[symbol].rng
        first = state.next_funding_ms[symbol] - BACKFILLED_INTERVALS * FUNDING_INTERVAL_MS
        for i in range(BACKFILLED_INTERVALS):
            rate = Decimal(f"{0.0001 + rng.gauss(0, 0.00005):.8f}")
            state.funding_history[symbol].append(FundingRecord(symbol, rate, first + i * FUNDING_INTERVAL_MS))

    def rate(self, symbol: str) -> Decimal:
        return Decimal(f"{self.state.markets[symbol].funding_rate:.8f}")

    def settle_due(self, symbol: str, now_ms: int) -> None:
        """Every interval the clock has passed: a fast clock settles each one it skipped."""
        while now_ms >= self.state.next_funding_ms[symbol]:
            self._settle(symbol, now_ms)

    def _settle(self, symbol: str, now_ms: int) -> None:
        state = self.state
        when = state.next_funding_ms[symbol]
        rate = self.rate(symbol)
        state.funding_history[symbol].append(FundingRecord(symbol, rate, when))
        state.next_funding_ms[symbol] = when + FUNDING_INTERVAL_MS
        pos = state.account.positions.get(symbol)
        if pos is None or pos.side is None:
            return
        mark = state.markets[symbol].mark
        value = pos.size * mark
        payment = value * rate * pos.side.sign  # longs pay shorts when the rate is positive
        state.account.apply_funding(symbol, payment, now_ms)
        execution = Execution(
            exec_id=state.new_id(),
            order_id="",
            order_link_id="",
            symbol=symbol,
            side=pos.side,
            exec_price=mark,
            exec_qty=pos.size,
            exec_value=value,
            exec_fee=payment,
            fee_rate=rate,
            exec_type="Funding",
            exec_time=now_ms,
            is_maker=False,
            closed_size=ZERO,
            order_type="UNKNOWN",
            order_price=ZERO,
            order_qty=ZERO,
            leaves_qty=ZERO,
            seq=state.next_seq(),
        )
        state.record_execution(execution)
        state.touch_position(symbol)
