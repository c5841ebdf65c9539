"""Reconciliation diffing: the shadow state against the exchange. REST is the truth.

Pure: it takes both views and returns the differences with a severity and the action that
corrects each. The runtime applies the actions, persists the run and its diffs, and sets
the mode from the verdict:

  OK    nothing differs
  WARN  differences within tolerance, corrected and audited (RECONCILE_DRIFT, DEGRADE)
  BAD   beyond tolerance, an unprotected or unknown position, or WARN repeated
        (DRIFT_LIMIT_EXCEEDED, PAUSE)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from titan_common.exchanges.types import ExchangeOrder, ExchangePosition
from titan_execution.core.positions import Position


class Verdict(StrEnum):
    OK = "OK"
    WARN = "WARN"
    BAD = "BAD"


class Action(StrEnum):
    ADOPT = "ADOPT"  # a position we did not know: take it into the shadow state and protect it
    DROP = "DROP"  # we think a position is open; the exchange says flat
    RESIZE = "RESIZE"  # sizes or entries differ: take the exchange's
    PROTECT = "PROTECT"  # the exchange position has no stop
    TRACK_ORDER = "TRACK_ORDER"  # an open order we have no record of
    SET_LEVERAGE = "SET_LEVERAGE"  # the venue runs a position at another leverage than Titan set
    NONE = "NONE"


@dataclass(frozen=True)
class Diff:
    kind: str  # POSITION | LEVERAGE | ORDER
    symbol: str
    field: str
    shadow: str | None
    exchange: str | None
    severity: Verdict
    action: Action


@dataclass(frozen=True)
class Tolerance:
    size_rel: Decimal = Decimal("0.001")  # 0.1% of size
    price_rel: Decimal = Decimal("0.001")


def _rel(a: Decimal, b: Decimal) -> Decimal:
    base = max(abs(a), abs(b))
    return Decimal(0) if base == 0 else abs(a - b) / base


def diff_positions(
    shadow: Iterable[Position], exchange: Iterable[ExchangePosition], tolerance: Tolerance = Tolerance()
) -> list[Diff]:
    ours = {p.symbol: p for p in shadow if not p.is_flat}
    theirs = {p.symbol: p for p in exchange if p.size > 0}
    diffs: list[Diff] = []
    for symbol in sorted(set(ours) | set(theirs)):
        mine, real = ours.get(symbol), theirs.get(symbol)
        if mine is None and real is not None:
            # adoption corrects it; the system runs manage-only (WARN) until a clean run
            diffs.append(
                Diff("POSITION", symbol, "exists", None, f"{real.side} {real.size}", Verdict.WARN, Action.ADOPT)
            )
        elif mine is not None and real is None:
            diffs.append(
                Diff("POSITION", symbol, "exists", f"{mine.side} {mine.size}", None, Verdict.WARN, Action.DROP)
            )
        elif mine is not None and real is not None:
            if mine.side is not real.side:
                diffs.append(
                    Diff("POSITION", symbol, "side", str(mine.side), str(real.side), Verdict.BAD, Action.RESIZE)
                )
            elif _rel(mine.size, real.size) > 0:
                bad = _rel(mine.size, real.size) > tolerance.size_rel
                diffs.append(
                    Diff("POSITION", symbol, "size", str(mine.size), str(real.size),
                         Verdict.BAD if bad else Verdict.WARN, Action.RESIZE)
                )  # fmt: skip
            elif _rel(mine.avg_entry, real.avg_price) > tolerance.price_rel:
                diffs.append(
                    Diff("POSITION", symbol, "avg_entry", str(mine.avg_entry), str(real.avg_price),
                         Verdict.WARN, Action.RESIZE)
                )  # fmt: skip
        if real is not None and real.stop_loss is None:
            diffs.append(Diff("POSITION", symbol, "stop_loss", None, None, Verdict.BAD, Action.PROTECT))
    return diffs


QUOTE_COINS = ("USDT", "USDC")


def base_asset(symbol: str) -> str:
    """The coin a spot symbol buys: BTC for BTCUSDT."""
    for quote in QUOTE_COINS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def titan_holdings(shadow: Iterable[Position], balances: Mapping[str, Decimal]) -> list[ExchangePosition]:
    """On a spot venue, the part of the account's coins that is Titan's, as venue positions
    to diff the book against: Titan's inventory (its own fills) as far as the coins are
    there. Coins beyond it are not Titan's (held before, or bought by hand), so nothing is
    ever adopted; fewer coins than Titan bought is a shortfall, which diff_positions reports
    as drift (RESIZE, or DROP when none are left). The stop is Titan's own, so it is the book's."""
    holdings = []
    for position in shadow:
        if position.is_flat:
            continue
        held = min(position.size, balances.get(base_asset(position.symbol), Decimal(0)))
        if held <= 0:
            continue
        holdings.append(
            ExchangePosition(
                symbol=position.symbol, side=position.side, size=held, avg_price=position.avg_entry,
                mark_price=None, leverage=None, stop_loss=position.stop_loss, take_profit=None,
                unrealised_pnl=Decimal(0), cum_realised_pnl=Decimal(0), updated_ms=0,
            )
        )  # fmt: skip
    return holdings


def diff_leverage(shadow: Iterable[Position], exchange: Iterable[ExchangePosition]) -> list[Diff]:
    """Open positions the venue runs at another leverage than the one Titan decided and set
    (someone changed it on the venue): the stop may now sit beyond the bust price."""
    decided = {p.symbol: p.leverage for p in shadow if not p.is_flat and p.leverage is not None}
    return [
        Diff("LEVERAGE", real.symbol, "leverage", str(decided[real.symbol]), str(real.leverage),
             Verdict.WARN, Action.SET_LEVERAGE)
        for real in exchange
        if real.size > 0 and real.symbol in decided and real.leverage is not None
        and real.leverage != decided[real.symbol]
    ]  # fmt: skip


def foreign_fill_diffs(symbols: Iterable[str], exchange: Iterable[ExchangePosition]) -> list[Diff]:
    """Positions that fills from orders Titan never sent have already built in the shadow
    state (caught up over REST, so sizes agree): still someone else's risk, so adopted."""
    theirs = {p.symbol: p for p in exchange if p.size > 0}
    return [
        Diff("POSITION", symbol, "foreign_fill", None, f"{theirs[symbol].side} {theirs[symbol].size}",
             Verdict.WARN, Action.ADOPT)
        for symbol in sorted(symbols)
        if symbol in theirs
    ]  # fmt: skip


def diff_orders(known_client_ids: set[str], exchange_open: Iterable[ExchangeOrder]) -> list[Diff]:
    diffs = []
    for order in exchange_open:
        if order.client_order_id not in known_client_ids:
            diffs.append(
                Diff("ORDER", order.symbol, "exists", None, order.client_order_id or order.order_id,
                     Verdict.WARN, Action.TRACK_ORDER)
            )  # fmt: skip
    return diffs


def verdict(diffs: Iterable[Diff], previous: Verdict = Verdict.OK) -> Verdict:
    """The run's verdict: the worst diff, and a WARN right after a WARN counts as BAD."""
    worst = Verdict.OK
    for item in diffs:
        if item.severity is Verdict.BAD:
            return Verdict.BAD
        worst = Verdict.WARN
    if worst is Verdict.WARN and previous is not Verdict.OK:
        return Verdict.BAD
    return worst
