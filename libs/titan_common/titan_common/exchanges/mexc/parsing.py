"""Pure conversion of MEXC spot v3 payloads (the raw JSON ccxt hands back) into shared types.

Money is read from MEXC's own strings into Decimal, never from ccxt's floats. Titan's symbol
is MEXC's spot symbol id (`BTCUSDT`); a contract's `BTC_USDT` and ccxt's unified `BTC/USDT`
are mapped here and never leave this folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from titan_common.exchanges import payloads
from titan_common.exchanges import types as T
from titan_common.exchanges.mexc import constants as C
from titan_common.messages import Side

log = logging.getLogger(__name__)

# MEXC states no maximum order quantity on spot (its cap is maxQuoteAmount, in quote)
NO_MAX_QTY = Decimal(10) ** 12


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """MEXC sends numbers as strings (sometimes as JSON numbers, sometimes null); text that
    is no number counts as absent."""
    return payloads.dec(value, default, lenient=True)


def dec0(value: Any) -> Decimal:
    return payloads.dec0(value, lenient=True)


def price_or_none(value: Any) -> Decimal | None:
    return payloads.price_or_none(value, lenient=True)


def decimal_str(value: Decimal) -> str:
    """MEXC wants plain decimal strings, never exponent notation."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ms(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# --- symbols -------------------------------------------------------------------------


def ccxt_symbol(symbol: str, quote: str = C.QUOTE_ASSET) -> str:
    """Titan's BTCUSDT as ccxt's unified BTC/USDT."""
    return f"{symbol.removesuffix(quote)}/{quote}" if symbol.endswith(quote) and symbol != quote else symbol


def titan_symbol(wire: str) -> str:
    """ccxt's BTC/USDT (or BTC/USDT:USDT) and a contract's BTC_USDT as Titan's BTCUSDT."""
    return wire.split(":", 1)[0].replace("/", "").replace("_", "")


def contract_symbol(symbol: str, quote: str = C.QUOTE_ASSET) -> str:
    """Titan's BTCUSDT as MEXC's contract symbol BTC_USDT."""
    return f"{symbol.removesuffix(quote)}_{quote}" if symbol.endswith(quote) and symbol != quote else symbol


def base_asset(symbol: str, quote: str = C.QUOTE_ASSET) -> str:
    return symbol.removesuffix(quote) if symbol.endswith(quote) else symbol


# --- reference data --------------------------------------------------------------------


def _step(decimals: Any) -> Decimal | None:
    """A precision given as a number of decimals (MEXC's *Precision ints) as a step."""
    if decimals is None or decimals == "":
        return None
    try:
        return Decimal(1).scaleb(-int(decimals))
    except (TypeError, ValueError):
        return None


def instrument(item: dict[str, Any]) -> T.InstrumentFilters:
    """A symbol of GET /api/v3/exchangeInfo. Binance-style `filters` win when present;
    otherwise MEXC's fields: quotePrecision (price decimals), baseAssetPrecision (quantity
    decimals), baseSizePrecision (minimum quantity), quoteAmountPrecision (minimum notional)."""
    filters = {f.get("filterType"): f for f in item.get("filters") or () if isinstance(f, dict)}
    price_filter = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    notional = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    tick = price_or_none(price_filter.get("tickSize")) or _step(
        item.get("quotePrecision", item.get("quoteAssetPrecision"))
    )
    step = price_or_none(lot.get("stepSize")) or _step(item.get("baseAssetPrecision"))
    min_qty = price_or_none(lot.get("minQty")) or price_or_none(item.get("baseSizePrecision")) or step
    status = str(item.get("status", "")).upper()
    return T.InstrumentFilters(
        symbol=item["symbol"],
        tick_size=tick or Decimal(0),
        qty_step=step or Decimal(0),
        min_qty=min_qty or Decimal(0),
        max_qty=price_or_none(lot.get("maxQty")) or NO_MAX_QTY,
        min_notional=dec0(notional.get("minNotional") or item.get("quoteAmountPrecision")),
        max_market_qty=None,
        min_leverage=1,
        max_leverage=1,  # spot: no leverage
        trading=status in C.TRADING_STATUSES and item.get("isSpotTradingAllowed", True) is not False,
    )


@dataclass(frozen=True)
class Contract:
    """A perpetual of GET /api/v1/contract/detail, and whether an API key may trade it."""

    symbol: str  # Titan's BTCUSDT
    contract_symbol: str  # MEXC's BTC_USDT
    api_allowed: bool
    filters: T.InstrumentFilters


def contract(item: dict[str, Any]) -> Contract:
    api_allowed = item.get("apiAllowed") is True
    symbol = titan_symbol(str(item["symbol"]))
    return Contract(
        symbol=symbol,
        contract_symbol=str(item["symbol"]),
        api_allowed=api_allowed,
        filters=T.InstrumentFilters(
            symbol=symbol,
            tick_size=dec0(item.get("priceUnit")),
            qty_step=dec0(item.get("volUnit")),
            min_qty=dec0(item.get("minVol")),
            max_qty=dec0(item.get("maxVol")) or NO_MAX_QTY,
            min_notional=Decimal(0),
            min_leverage=int(dec0(item.get("minLeverage") or 1)),
            max_leverage=int(dec0(item.get("maxLeverage") or 1)),
            # state 0 is enabled; a contract an API key may not trade is not trading for Titan
            trading=str(item.get("state", "0")) == "0" and api_allowed,
        ),
    )


def contracts(payload: Any) -> list[Contract]:
    """The `data` of contract/detail: a list, or one object when a symbol was asked."""
    data = payload.get("data") if isinstance(payload, dict) else payload
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return [contract(item) for item in items if isinstance(item, dict) and item.get("symbol")]


def server_time_ms(payload: dict[str, Any]) -> int:
    return int(payload["serverTime"])


# --- account ---------------------------------------------------------------------------


def balances(account: dict[str, Any]) -> dict[str, Decimal]:
    """GET /api/v3/account `balances`: each asset's total (free + locked); zero totals left out."""
    totals: dict[str, Decimal] = {}
    for item in account.get("balances") or ():
        total = dec0(item.get("free")) + dec0(item.get("locked"))
        if total:
            totals[str(item["asset"])] = totals.get(str(item["asset"]), Decimal(0)) + total
    return totals


def wallet(account: dict[str, Any], quote: str = C.QUOTE_ASSET) -> T.Wallet:
    """The quote asset (USDT) alone: equity and wallet balance are its free + locked, available
    its free. Other coins held are not valued here (they would need a price, and Titan values
    its own inventory from its fills); a spot account has no unrealised PnL or margin."""
    free = locked = Decimal(0)
    for item in account.get("balances") or ():
        if item.get("asset") == quote:
            free += dec0(item.get("free"))
            locked += dec0(item.get("locked"))
    return T.Wallet(
        equity=free + locked,
        wallet_balance=free + locked,
        available_balance=free,
        unrealised_pnl=Decimal(0),
        initial_margin=Decimal(0),
    )


# --- orders and fills --------------------------------------------------------------------


def side_of(value: Any) -> Side:
    return Side.BUY if str(value).upper() == "BUY" else Side.SELL


def order_status(name: str) -> T.OrderStatus:
    known = C.ORDER_STATUSES.get(name)
    if known is None:
        log.warning("unknown MEXC order status %r", name)
        return T.OrderStatus.UNKNOWN
    return known


def order(item: dict[str, Any]) -> T.ExchangeOrder:
    """An order of GET/DELETE /api/v3/order, openOrders or allOrders. A cancel answer carries
    the order's own id as origClientOrderId (its clientOrderId names the cancel), so that wins."""
    status = order_status(str(item.get("status") or ""))
    qty = dec0(item.get("origQty") or item.get("Qty"))
    executed = dec0(item.get("executedQty"))
    quote_filled = dec0(item.get("cummulativeQuoteQty"))
    created = _ms(item.get("time") or item.get("transactTime"))
    return T.ExchangeOrder(
        order_id=str(item["orderId"]),
        client_order_id=item.get("origClientOrderId") or item.get("clientOrderId") or None,
        symbol=str(item["symbol"]),
        side=side_of(item.get("side")),
        order_type=C.ORDER_TYPES.get(str(item.get("type") or ""), str(item.get("type") or "")),
        qty=qty,
        price=price_or_none(item.get("price")),
        status=status,
        avg_price=(quote_filled / executed) if executed and quote_filled else None,
        cum_exec_qty=executed,
        leaves_qty=max(qty - executed, Decimal(0)) if status.is_open else Decimal(0),
        reduce_only=False,
        stop_loss=None,
        take_profit=None,
        trigger_price=None,
        created_ms=created,
        updated_ms=_ms(item.get("updateTime")) or created,
        reject_reason=None,
    )


def fee_in_quote(
    commission: Decimal, commission_asset: str, price: Decimal, symbol: str, quote: str = C.QUOTE_ASSET
) -> Decimal | None:
    """A commission in the quote asset: as is in quote, times the price in the base coin;
    None for any other asset (MX deduction), which has no price here."""
    if not commission:
        return Decimal(0)
    if commission_asset == quote:
        return commission
    if commission_asset == base_asset(symbol, quote):
        return commission * price
    return None


def execution(item: dict[str, Any], quote: str = C.QUOTE_ASSET) -> T.Execution:
    """A trade of GET /api/v3/myTrades. `fee` is in the quote asset (Titan's PnL counts in it);
    `fee_asset`/`fee_qty` keep what the venue charged, e.g. the bought coin, which the account
    then holds less of."""
    symbol = str(item["symbol"])
    price = dec0(item.get("price"))
    commission = dec0(item.get("commission"))
    commission_asset = str(item.get("commissionAsset") or "")
    fee = fee_in_quote(commission, commission_asset, price, symbol, quote)
    if fee is None:
        log.warning("MEXC fee of %s %s on trade %s has no quote value; counted as 0", commission,
                    commission_asset, item.get("id"))  # fmt: skip
        fee = Decimal(0)
    return T.Execution(
        exec_id=str(item["id"]),
        order_id=str(item.get("orderId") or ""),
        client_order_id=item.get("clientOrderId") or None,
        symbol=symbol,
        side=Side.BUY if item.get("isBuyer") else Side.SELL,
        price=price,
        qty=dec0(item.get("qty")),
        fee=fee,
        exec_type=T.ExecType.TRADE,  # spot has no liquidation, funding or delivery
        is_maker=bool(item.get("isMaker", False)),
        ts_ms=_ms(item.get("time")),
        fee_asset=commission_asset or None,
        fee_qty=commission,
    )


def executions(items: Iterable[dict[str, Any]], quote: str = C.QUOTE_ASSET) -> list[T.Execution]:
    """Oldest first, each trade once (pages may overlap at their edges)."""
    by_id = {e.exec_id: e for e in (execution(item, quote) for item in items)}
    return sorted(by_id.values(), key=lambda e: (e.ts_ms, e.exec_id))


# --- market data -------------------------------------------------------------------------


def kline_interval(interval: str) -> str:
    """Titan's (Bybit's) interval word as MEXC's; MEXC's own words pass through."""
    mexc = C.KLINE_INTERVALS.get(interval, interval)
    if mexc not in C.KLINE_INTERVALS_MS:
        raise ValueError(f"MEXC has no kline interval {interval!r}; known: {', '.join(C.KLINE_INTERVALS)}")
    return mexc


def kline(row: list[Any]) -> T.Kline:
    """A kline row: [openTime, open, high, low, close, volume, closeTime, quoteVolume]."""
    return payloads.kline_row(row, turnover_at=7, lenient=True)


def klines(rows: Iterable[list[Any]]) -> list[T.Kline]:
    return payloads.oldest_first(kline(row) for row in rows)


def live_bars(rows: Any) -> list[T.LiveBar]:
    """Kline rows as the stream's bars (oldest first); a malformed row is skipped."""
    bars = []
    for row in rows if isinstance(rows, list) else ():
        try:
            bars.append(
                T.LiveBar(int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]))
            )
        except (IndexError, TypeError, ValueError):
            continue
    return sorted(bars, key=lambda b: b.start_ms)


def ticker(item: dict[str, Any]) -> T.Ticker:
    """A GET /api/v3/ticker/24hr entry. Spot has no mark, index, funding or open interest."""
    return T.Ticker(
        symbol=str(item["symbol"]),
        last_price=dec0(item.get("lastPrice")),
        mark_price=None,
        index_price=None,
        turnover_24h=dec0(item.get("quoteVolume")),
        volume_24h=dec0(item.get("volume")),
        high_24h=price_or_none(item.get("highPrice")),
        low_24h=price_or_none(item.get("lowPrice")),
        funding_rate=None,
        next_funding_ms=None,
        open_interest=None,
    )


def tickers(payload: Any) -> list[T.Ticker]:
    """ticker/24hr answers an object for one symbol and a list for all."""
    items = payload if isinstance(payload, list) else [payload] if isinstance(payload, dict) else []
    return [ticker(item) for item in items if isinstance(item, dict) and item.get("symbol")]


def ticker_update(item: dict[str, Any]) -> T.TickerUpdate:
    try:
        last = float(item["lastPrice"])
    except (KeyError, TypeError, ValueError):
        last = None
    return T.TickerUpdate(last_price=last, mark_price=None, index_price=None, funding_rate=None, open_interest=None)


def _trade_key(item: dict[str, Any]) -> str:
    """A public trade's identity: its id when MEXC gives one (often null), else its content."""
    if item.get("id") not in (None, ""):
        return str(item["id"])
    return f"{item.get('time')}|{item.get('price')}|{item.get('qty')}|{item.get('isBuyerMaker')}"


def new_public_trades(
    items: Any, seen_ms: int, seen_keys: frozenset[str]
) -> tuple[list[T.PublicTrade], int, frozenset[str]]:
    """The trades of a GET /api/v3/trades poll not yet yielded, oldest first.

    `seen_ms` is the newest trade time yielded so far and `seen_keys` the keys of the trades at
    that time: older trades were all seen, trades at `seen_ms` are new only if unseen. Returns
    the new trades and the cursor after them. The first poll (seen_ms 0) yields nothing but
    sets the cursor: the tape starts now, not with the venue's backlog."""
    parsed: list[tuple[int, str, T.PublicTrade]] = []
    for item in items if isinstance(items, list) else ():
        try:
            ts = int(item["time"])
            trade = T.PublicTrade(ts, not bool(item.get("isBuyerMaker")), float(item["price"]))
            parsed.append((ts, _trade_key(item), trade))
        except (KeyError, TypeError, ValueError):
            continue
    parsed.sort(key=lambda p: p[0])
    if not parsed:
        return [], seen_ms, seen_keys
    newest = parsed[-1][0]
    fresh = [p for p in parsed if p[0] > seen_ms or (p[0] == seen_ms and p[1] not in seen_keys)]
    if newest > seen_ms:
        keys = frozenset(p[1] for p in parsed if p[0] == newest)
    else:
        keys = seen_keys | frozenset(p[1] for p in fresh)
    if seen_ms == 0:
        return [], newest, keys
    return [p[2] for p in fresh], max(newest, seen_ms), keys
