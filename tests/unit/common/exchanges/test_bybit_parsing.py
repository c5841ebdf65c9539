"""Bybit payloads (shapes from shared/bybit-v5-notes.md) into shared types; error mapping."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pybit.exceptions import FailedRequestError, InvalidRequestError

from titan_common.exchanges import (
    DuplicateClientOrderId,
    NotModified,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    TimestampRejected,
)
from titan_common.exchanges.bybit import parsing as P
from titan_common.exchanges.bybit.adapter import private_event, public_event
from titan_common.exchanges.bybit.http import map_error
from titan_common.exchanges.bybit.streams import ws_base
from titan_common.exchanges.types import ExecType, PublicTrade, TickerUpdate
from titan_common.messages import Side


def test_instrument() -> None:
    item = {
        "symbol": "BTCUSDT",
        "status": "Trading",
        "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
        "lotSizeFilter": {
            "minOrderQty": "0.001",
            "maxOrderQty": "100.000",
            "qtyStep": "0.001",
            "maxMktOrderQty": "50.000",
            "minNotionalValue": "5",
        },
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    }
    f = P.instrument(item)
    assert (f.tick_size, f.qty_step, f.min_notional, f.max_market_qty) == (D("0.10"), D("0.001"), D(5), D(50))
    assert f.trading
    assert f.max_leverage == 100
    assert not P.instrument({**item, "status": "Closed"}).trading


def test_flat_position_row_has_no_side() -> None:
    flat = P.position({"symbol": "ETHUSDT", "side": "", "size": "0", "avgPrice": "0", "stopLoss": "", "markPrice": "1"})
    assert flat.side is None
    assert flat.size == 0
    assert flat.stop_loss is None
    long = P.position({"symbol": "ETHUSDT", "side": "Buy", "size": "1.5", "avgPrice": "2000", "stopLoss": "1900"})
    assert (long.side, long.size, long.stop_loss) == (Side.BUY, D("1.5"), D(1900))


def test_order_and_execution() -> None:
    order = P.order(
        {
            "orderId": "o1",
            "orderLinkId": "t-abc",
            "symbol": "BTCUSDT",
            "side": "Sell",
            "orderType": "Market",
            "qty": "0.010",
            "price": "0",
            "orderStatus": "Filled",
            "avgPrice": "50000.5",
            "cumExecQty": "0.010",
            "leavesQty": "0",
            "reduceOnly": False,
            "stopLoss": "51000",
            "takeProfit": "",
            "triggerPrice": "",
            "createdTime": "1700000000000",
            "updatedTime": "1700000000100",
        }
    )
    assert (order.client_order_id, order.side, order.price, order.avg_price) == ("t-abc", Side.SELL, None, D("50000.5"))
    assert (order.stop_loss, order.take_profit, order.created_ms) == (D(51000), None, 1_700_000_000_000)
    ex = P.execution(
        {
            "execId": "e1",
            "orderId": "o1",
            "orderLinkId": "t-abc",
            "symbol": "BTCUSDT",
            "side": "Sell",
            "execPrice": "50000.5",
            "execQty": "0.010",
            "execFee": "0.275",
            "execType": "Trade",
            "isMaker": False,
            "execTime": "1700000000050",
        }
    )
    assert (ex.exec_id, ex.fee, ex.ts_ms, ex.is_maker) == ("e1", D("0.275"), 1_700_000_000_050, False)
    assert ex.exec_type is ExecType.TRADE


@pytest.mark.parametrize(
    ("name", "exec_type"),
    [("Trade", ExecType.TRADE), ("Funding", ExecType.FUNDING), ("BustTrade", ExecType.LIQUIDATION),
     ("AdlTrade", ExecType.ADL), ("Delivery", ExecType.DELIVERY), ("Settle", ExecType.SETTLEMENT),
     ("BlockTrade", ExecType.BLOCK_TRADE), ("MovePosition", ExecType.MOVE_POSITION),
     ("SomethingNew", ExecType.OTHER)],
)  # fmt: skip
def test_exec_types_map_into_titan_words(name: str, exec_type: ExecType) -> None:
    assert P.exec_type(name) is exec_type
    assert exec_type.changes_position is (exec_type is not ExecType.FUNDING)


def test_wallet() -> None:
    wallet = P.wallet({"totalEquity": "10010.5", "totalWalletBalance": "10000", "totalAvailableBalance": "9000",
                       "totalPerpUPL": "10.5", "totalInitialMargin": "1000"})  # fmt: skip
    assert (wallet.equity, wallet.unrealised_pnl) == (D("10010.5"), D("10.5"))


def test_decimal_strings_are_plain() -> None:
    assert P.decimal_str(D("1E+1")) == "10"
    assert P.decimal_str(D("0.00100")) == "0.00100"


def test_ws_messages() -> None:
    event = private_event({"id": "1", "topic": "execution", "creationTime": 1, "data": []})
    assert event is not None
    assert event.topic == "execution"
    assert private_event({"op": "pong"}) is None
    trade = public_event({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 5, "data": [{"p": "1"}]})
    assert trade is not None
    assert (trade.kind, trade.symbol, trade.ts_ms, trade.data) == ("trade", "BTCUSDT", 5, [])  # malformed: skipped
    sold = {"T": 7, "S": "Sell", "p": "65000.5", "v": "1"}
    tape = public_event({"topic": "publicTrade.BTCUSDT", "ts": 7, "data": [sold]})
    assert tape is not None
    assert tape.data == [PublicTrade(7, False, 65000.5)]
    ticker = public_event({"topic": "tickers.BTCUSDT", "ts": 8, "data": {"lastPrice": "1.5", "fundingRate": ""}})
    assert ticker is not None
    assert ticker.data == TickerUpdate(1.5, None, None, None, None)
    book = public_event({"topic": "orderbook.50.ETHUSDT", "ts": 6, "data": {}})
    assert book is not None
    assert (book.kind, book.symbol) == ("orderbook", "ETHUSDT")


def test_ws_base() -> None:
    assert ws_base("http://127.0.0.1:9100") == "ws://127.0.0.1:9100"
    assert ws_base("https://api-testnet.bybit.com") == "wss://stream-testnet.bybit.com"


def invalid(code: int) -> InvalidRequestError:
    return InvalidRequestError(request="r", message="m", status_code=code, time="t", resp_headers={})


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (110001, OrderNotFound),
        (110072, DuplicateClientOrderId),
        (110043, NotModified),
        (34040, NotModified),
        (10006, RateLimited),
        (10002, TimestampRejected),
        (10016, OutcomeUnknown),
        (110007, OrderRejected),
        (110094, OrderRejected),
        (10001, OrderRejected),
        (110079, OutcomeUnknown),  # "being processed": not a refusal
        (99999, OutcomeUnknown),  # a code Titan does not know is never terminal
    ],
)
def test_ret_codes_map_to_what_the_caller_can_conclude(code: int, kind: type[Exception]) -> None:
    mapped = map_error(invalid(code))
    assert type(mapped) is kind
    assert mapped.code == code


def test_http_failures() -> None:
    assert isinstance(map_error(FailedRequestError("r", "m", 429, "t", {})), RateLimited)
    assert isinstance(map_error(FailedRequestError("r", "m", 502, "t", {})), OutcomeUnknown)
    assert isinstance(map_error(ConnectionError("reset")), OutcomeUnknown)


def test_balances_are_each_coins_wallet_balance() -> None:
    account = {
        "totalEquity": "10100",
        "coin": [
            {"coin": "USDT", "walletBalance": "10000.5", "equity": "10100"},
            {"coin": "BTC", "walletBalance": "0.01"},
            {"coin": "ETH", "walletBalance": "0"},
        ],
    }
    assert P.balances(account) == {"USDT": D("10000.5"), "BTC": D("0.01")}
    assert P.balances({}) == {}
