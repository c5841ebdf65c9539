"""MEXC spot v3 payloads (shapes from MEXC's docs and shared/mexc-spot-v3-notes.md) into shared
types, and ccxt's failures into Titan's errors. Pure: no I/O."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from ccxt.base import errors as ccxt_errors  # type: ignore[import-untyped]

from titan_common.exchanges import (
    DuplicateClientOrderId,
    ExchangeError,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    TimestampRejected,
)
from titan_common.exchanges.mexc import parsing as P
from titan_common.exchanges.mexc.http import annotate, map_error, retry_after_ms
from titan_common.exchanges.types import ExecType, OrderStatus, PublicTrade, TickerUpdate
from titan_common.messages import Side

SPOT_SYMBOL = {
    "symbol": "BTCUSDT",
    "status": "1",
    "baseAsset": "BTC",
    "baseAssetPrecision": 6,
    "quoteAsset": "USDT",
    "quotePrecision": 2,
    "quoteAssetPrecision": 2,
    "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False,
    "quoteAmountPrecision": "5",
    "baseSizePrecision": "0.0001",
    "permissions": ["SPOT"],
    "filters": [],
    "maxQuoteAmount": "2000000",
    "makerCommission": "0",
    "takerCommission": "0.0005",
}


def test_instrument_from_mexc_fields() -> None:
    filters = P.instrument(SPOT_SYMBOL)
    assert filters.symbol == "BTCUSDT"
    assert filters.tick_size == D("0.01")
    assert filters.qty_step == D("0.000001")
    assert filters.min_qty == D("0.0001")
    assert filters.min_notional == D("5")
    assert (filters.min_leverage, filters.max_leverage) == (1, 1)
    assert filters.max_market_qty is None
    assert filters.trading


def test_instrument_prefers_binance_style_filters_and_reads_status_words() -> None:
    item = dict(
        SPOT_SYMBOL,
        status="ENABLED",
        filters=[
            {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.002", "maxQty": "900"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10"},
        ],
    )
    filters = P.instrument(item)
    assert (filters.tick_size, filters.qty_step, filters.min_qty, filters.max_qty, filters.min_notional) == (
        D("0.10"),
        D("0.001"),
        D("0.002"),
        D("900"),
        D("10"),
    )
    assert filters.trading


@pytest.mark.parametrize(
    "change", [{"status": "2"}, {"status": "3"}, {"isSpotTradingAllowed": False}, {"status": "PAUSE"}]
)
def test_instrument_not_trading(change: dict[str, Any]) -> None:
    assert not P.instrument(dict(SPOT_SYMBOL, **change)).trading


def test_contract_detail_and_api_allowed() -> None:
    payload = {
        "success": True,
        "code": 0,
        "data": [
            {"symbol": "BTC_USDT", "priceUnit": 0.1, "volUnit": 1, "minVol": 1, "maxVol": 1000000,
             "minLeverage": 1, "maxLeverage": 125, "state": 0, "apiAllowed": False},
            {"symbol": "ETH_USDT", "priceUnit": 0.01, "volUnit": 1, "minVol": 1, "maxVol": 500000,
             "minLeverage": 1, "maxLeverage": 100, "state": 0, "apiAllowed": True},
        ],
    }  # fmt: skip
    btc, eth = P.contracts(payload)
    assert (btc.symbol, btc.contract_symbol, btc.api_allowed) == ("BTCUSDT", "BTC_USDT", False)
    assert not btc.filters.trading  # an API key may not trade it: not trading for Titan
    assert btc.filters.tick_size == D("0.1")
    assert btc.filters.max_leverage == 125
    assert eth.api_allowed
    assert eth.filters.trading
    assert P.contracts({"success": True, "data": {"symbol": "BTC_USDT"}})[0].api_allowed is False


def test_symbols_map_within_the_folder() -> None:
    assert P.ccxt_symbol("BTCUSDT") == "BTC/USDT"
    assert P.titan_symbol("BTC/USDT") == "BTCUSDT"
    assert P.titan_symbol("BTC/USDT:USDT") == "BTCUSDT"
    assert P.titan_symbol("BTC_USDT") == "BTCUSDT"
    assert P.contract_symbol("ETHUSDT") == "ETH_USDT"
    assert P.base_asset("SOLUSDT") == "SOL"


def test_wallet_is_usdt_only_and_balances_are_totals() -> None:
    account = {
        "canTrade": True,
        "accountType": "SPOT",
        "balances": [
            {"asset": "USDT", "free": "9000.5", "locked": "1000"},
            {"asset": "BTC", "free": "0.5", "locked": "0.25"},
            {"asset": "ETH", "free": "0", "locked": "0"},
        ],
    }
    wallet = P.wallet(account)
    assert wallet.equity == wallet.wallet_balance == D("10000.5")
    assert wallet.available_balance == D("9000.5")
    assert wallet.unrealised_pnl == wallet.initial_margin == 0
    assert P.balances(account) == {"USDT": D("10000.5"), "BTC": D("0.75")}
    assert P.wallet({"balances": []}).equity == 0


def _order(**changes: Any) -> dict[str, Any]:
    base = {
        "symbol": "BTCUSDT",
        "orderId": "C02__443776347957968896",
        "orderListId": -1,
        "clientOrderId": "t-abc",
        "price": "60000",
        "origQty": "0.010",
        "executedQty": "0",
        "cummulativeQuoteQty": "0",
        "status": "NEW",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "BUY",
        "stopPrice": "0",
        "time": 1700000000000,
        "updateTime": 1700000001000,
        "isWorking": True,
        "origQuoteOrderQty": "600",
    }
    return base | changes


@pytest.mark.parametrize(
    ("status", "executed", "quote", "expected", "leaves", "avg"),
    [
        ("NEW", "0", "0", OrderStatus.NEW, "0.010", None),
        ("PARTIALLY_FILLED", "0.004", "240", OrderStatus.PARTIALLY_FILLED, "0.006", "60000"),
        ("FILLED", "0.010", "599.5", OrderStatus.FILLED, "0", "59950"),
        ("CANCELED", "0", "0", OrderStatus.CANCELLED, "0", None),
        ("PARTIALLY_CANCELED", "0.004", "240", OrderStatus.CANCELLED, "0", "60000"),
        ("SOMETHING_NEW", "0", "0", OrderStatus.UNKNOWN, "0", None),
    ],
)
def test_order_of_every_status(
    status: str, executed: str, quote: str, expected: OrderStatus, leaves: str, avg: str | None
) -> None:
    order = P.order(_order(status=status, executedQty=executed, cummulativeQuoteQty=quote))
    assert order.status is expected
    assert order.cum_exec_qty == D(executed)
    assert order.leaves_qty == D(leaves)
    assert order.avg_price == (D(avg) if avg else None)
    assert (order.order_id, order.client_order_id, order.symbol, order.side) == (
        "C02__443776347957968896",
        "t-abc",
        "BTCUSDT",
        Side.BUY,
    )
    assert (order.qty, order.price, order.order_type) == (D("0.010"), D("60000"), "Limit")
    assert (order.created_ms, order.updated_ms) == (1700000000000, 1700000001000)
    assert order.stop_loss is order.take_profit is order.trigger_price is None
    assert not order.reduce_only


def test_order_shapes_a_query_and_a_cancel_answer() -> None:
    # the query answer of the docs says "Qty"; a market order has price 0
    market = P.order(_order(type="MARKET", price="0", side="SELL", Qty="0.5", origQty=None))
    assert market.order_type == "Market"
    assert market.price is None
    assert market.side is Side.SELL
    assert market.qty == D("0.5")
    # a cancel answer: origClientOrderId is the order's own, clientOrderId the cancel's
    cancel = P.order(_order(status="CANCELED", origClientOrderId="t-abc", clientOrderId="cancel-1"))
    assert cancel.client_order_id == "t-abc"
    assert P.order(_order(clientOrderId=None)).client_order_id is None
    assert P.order(_order(orderId=123)).order_id == "123"


def test_order_qty_reads_qty_when_orig_qty_is_absent() -> None:
    item = _order()
    del item["origQty"]
    item["Qty"] = "2.5"
    assert P.order(item).qty == D("2.5")


def _trade(**changes: Any) -> dict[str, Any]:
    base = {
        "symbol": "BTCUSDT",
        "id": "fad2af9e942049b6adbda1a271f990c6",
        "orderId": "bb41e5663e124046bd9497a3f5692f39",
        "orderListId": -1,
        "price": "60000.5",
        "qty": "0.002",
        "quoteQty": "120.001",
        "commission": "0.06",
        "commissionAsset": "USDT",
        "time": 1700000002000,
        "isBuyer": True,
        "isMaker": False,
        "isBestMatch": True,
        "isSelfTrade": False,
        "clientOrderId": "t-abc",
    }
    return base | changes


def test_trade_with_commission_in_quote() -> None:
    fill = P.execution(_trade())
    assert (fill.exec_id, fill.order_id, fill.client_order_id) == (
        "fad2af9e942049b6adbda1a271f990c6",
        "bb41e5663e124046bd9497a3f5692f39",
        "t-abc",
    )
    assert (fill.side, fill.price, fill.qty, fill.fee) == (Side.BUY, D("60000.5"), D("0.002"), D("0.06"))
    assert (fill.fee_asset, fill.fee_qty) == ("USDT", D("0.06"))
    assert fill.exec_type is ExecType.TRADE
    assert not fill.is_maker
    assert fill.ts_ms == 1700000002000


def test_trade_with_commission_in_the_base_coin_is_valued_in_quote() -> None:
    fill = P.execution(_trade(commission="0.000002", commissionAsset="BTC", isBuyer=True, isMaker=True))
    assert fill.fee == D("0.000002") * D("60000.5")
    assert (fill.fee_asset, fill.fee_qty) == ("BTC", D("0.000002"))  # the account holds that much less BTC
    assert fill.is_maker


def test_trade_with_commission_in_another_coin_counts_zero_but_keeps_it() -> None:
    fill = P.execution(_trade(commission="0.01", commissionAsset="MX", isBuyer=False, clientOrderId=None))
    assert fill.fee == 0
    assert (fill.fee_asset, fill.fee_qty) == ("MX", D("0.01"))
    assert fill.side is Side.SELL
    assert fill.client_order_id is None


def test_executions_are_oldest_first_each_once() -> None:
    items = [_trade(id="b", time=2), _trade(id="a", time=1), _trade(id="b", time=2)]
    assert [e.exec_id for e in P.executions(items)] == ["a", "b"]


def test_klines_are_oldest_first_with_turnover() -> None:
    rows = [
        [1640804940000, "47436.1", "47500", "47400", "47450", "2.5", 1640805000000, "118600.5"],
        [1640804880000, "47482.36", "47482.36", "47416.57", "47436.1", "3.550717", 1640804940000, "168387.3"],
    ]
    bars = P.klines(rows)
    assert [b.start_ms for b in bars] == [1640804880000, 1640804940000]
    assert bars[0].open == D("47482.36")
    assert bars[0].volume == D("3.550717")
    assert bars[0].turnover == D("168387.3")
    live = P.live_bars([*rows, ["bad"]])
    assert [b.start_ms for b in live] == [1640804880000, 1640804940000]
    assert live[1].close == 47450.0


def test_kline_intervals_speak_titans_words_and_mexcs() -> None:
    assert P.kline_interval("15") == "15m"
    assert P.kline_interval("60") == "60m"
    assert P.kline_interval("D") == "1d"
    assert P.kline_interval("4h") == "4h"
    with pytest.raises(ValueError, match="no kline interval '3'"):
        P.kline_interval("3")


def test_tickers_one_or_all() -> None:
    item = {
        "symbol": "BTCUSDT",
        "priceChange": "10",
        "lastPrice": "60010.5",
        "highPrice": "61000",
        "lowPrice": "59000",
        "volume": "1234.5",
        "quoteVolume": "74000000",
        "openTime": 1,
        "closeTime": 2,
    }
    (one,) = P.tickers(item)
    assert (one.symbol, one.last_price, one.volume_24h, one.turnover_24h) == (
        "BTCUSDT",
        D("60010.5"),
        D("1234.5"),
        D("74000000"),
    )
    assert (one.high_24h, one.low_24h) == (D("61000"), D("59000"))
    assert one.mark_price is one.index_price is one.funding_rate is one.open_interest is None
    assert len(P.tickers([item, dict(item, symbol="ETHUSDT")])) == 2
    assert P.ticker_update(item) == TickerUpdate(60010.5, None, None, None, None)
    assert P.ticker_update({}).last_price is None


def test_public_trades_start_now_and_are_each_yielded_once() -> None:
    first = [
        {"id": None, "price": "100", "qty": "1", "time": 1000, "isBuyerMaker": True},
        {"id": None, "price": "101", "qty": "1", "time": 2000, "isBuyerMaker": False},
    ]
    trades, seen_ms, keys = P.new_public_trades(first, 0, frozenset())
    assert trades == []
    assert seen_ms == 2000
    # the next poll overlaps the last; a second trade in the same millisecond is new
    second = [
        *first,
        {"id": None, "price": "102", "qty": "2", "time": 2000, "isBuyerMaker": True},
        {"id": None, "price": "103", "qty": "1", "time": 3000, "isBuyerMaker": False},
    ]
    trades, seen_ms, keys = P.new_public_trades(second, seen_ms, keys)
    assert trades == [PublicTrade(2000, False, 102.0), PublicTrade(3000, True, 103.0)]
    assert seen_ms == 3000
    trades, seen_ms2, _ = P.new_public_trades([*second, {"bad": 1}], seen_ms, keys)
    assert trades == []
    assert seen_ms2 == 3000
    assert P.new_public_trades("nonsense", 5, frozenset()) == ([], 5, frozenset())


def test_decimal_strings_are_plain() -> None:
    assert P.decimal_str(D("1E-7")) == "0.0000001"
    assert P.decimal_str(D("60000.10")) == "60000.1"
    assert P.decimal_str(D("100")) == "100"
    assert P.decimal_str(D("1E+2")) == "100"


# --- error mapping ---------------------------------------------------------------------


def _failure(status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None,
             cls: type[Exception] = ccxt_errors.ExchangeError) -> Exception:  # fmt: skip
    exc = cls("mexc says no")
    annotate(exc, status, headers or {}, body)
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_failure(400, {"code": -2011, "msg": "Unknown order sent."}, cls=ccxt_errors.BadRequest), OrderNotFound),
        (_failure(400, {"code": -2013, "msg": "Order does not exist."}), OrderNotFound),
        (
            _failure(400, {"code": 30004, "msg": "Insufficient position"}, cls=ccxt_errors.InsufficientFunds),
            OrderRejected,
        ),
        (
            _failure(400, {"code": 10101, "msg": "Insufficient balance"}, cls=ccxt_errors.InsufficientFunds),
            OrderRejected,
        ),
        (_failure(400, {"code": 30014, "msg": "invalid symbol"}, cls=ccxt_errors.InvalidOrder), OrderRejected),
        (_failure(400, {"code": -1121, "msg": "Invalid symbol."}, cls=ccxt_errors.BadSymbol), OrderRejected),
        (_failure(400, {"code": 30002, "msg": "minimum transaction volume"}), OrderRejected),
        (_failure(400, {"code": 700003, "msg": "outside of the recvWindow"}), TimestampRejected),
        (_failure(400, {"code": 700002, "msg": "Signature"}, cls=ccxt_errors.AuthenticationError), ExchangeError),
        (_failure(401, {"code": 700007, "msg": "No permission"}, cls=ccxt_errors.PermissionDenied), ExchangeError),
        (_failure(400, {"code": 123456, "msg": "a code nobody knows"}), OutcomeUnknown),
        (_failure(400, {"code": 30005, "msg": "Oversold"}, cls=ccxt_errors.InsufficientFunds), OrderRejected),
        (_failure(400, {"code": 99999, "msg": "Oversold"}, cls=ccxt_errors.InsufficientFunds), OutcomeUnknown),
        (_failure(400, {"code": 40001, "msg": "Duplicate newClientOrderId"}), DuplicateClientOrderId),
        (_failure(500, {"code": 500, "msg": "Internal error"}), OutcomeUnknown),
        (_failure(502, None), OutcomeUnknown),
        (_failure(503, {"code": 30004, "msg": "even a refusal code"}), OutcomeUnknown),
        (ccxt_errors.RequestTimeout("mexc GET /order"), OutcomeUnknown),
        (ccxt_errors.ExchangeNotAvailable("connection refused"), OutcomeUnknown),
        (ccxt_errors.NetworkError("reset"), OutcomeUnknown),
        (ccxt_errors.OrderNotFound("gone"), OrderNotFound),
        (ccxt_errors.DuplicateOrderId("again"), DuplicateClientOrderId),
        (RuntimeError("surprise"), OutcomeUnknown),
    ],
)
def test_error_mapping(exc: Exception, expected: type[ExchangeError]) -> None:
    mapped = map_error(exc, now=1_000)
    assert type(mapped) is expected


def test_a_403_is_the_waf_and_not_retried() -> None:
    mapped = map_error(_failure(403, None), now=1_000)
    assert type(mapped) is ExchangeError
    assert "firewall (WAF)" in str(mapped)
    assert mapped.code == 403


@pytest.mark.parametrize(
    ("status", "headers", "cls", "reset"),
    [
        (429, {"Retry-After": "3"}, ccxt_errors.ExchangeError, 4_000),
        (429, {"retry-after": "0.5"}, ccxt_errors.ExchangeError, 1_500),
        (429, {}, ccxt_errors.RateLimitExceeded, 2_000),  # no header: a second
        (418, {"Retry-After": "120"}, ccxt_errors.DDoSProtection, 121_000),
        (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, ccxt_errors.ExchangeError, 2_000),
    ],
)
def test_rate_limits_carry_their_reset(status: int, headers: dict[str, str], cls: type[Exception], reset: int) -> None:
    mapped = map_error(_failure(status, {"code": 429, "msg": "Too Many Requests"}, headers, cls), now=1_000)
    assert isinstance(mapped, RateLimited)
    assert mapped.reset_ms == reset


def test_retry_after() -> None:
    assert retry_after_ms({"Retry-After": "2"}, 10) == 2_010
    assert retry_after_ms(None, 10) == 1_010
