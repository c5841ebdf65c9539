"""The MEXC adapter's own logic: what it sends for each call (a recording `call`, no I/O), the
REST-polled public feed, each against a recording stand-in for its HTTP call: no I/O. Its
rate-limit handling through real HTTP is in tests/integration/common/test_mexc_adapter.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import pytest

from titan_common.exchanges import OrderRejected, OutcomeUnknown, PlaceOrder
from titan_common.exchanges.mexc import MexcAdapter, MexcConfig, TradingNotAllowed
from titan_common.exchanges.mexc import constants as C
from titan_common.exchanges.mexc.streams import PublicPoller
from titan_common.exchanges.types import OrderStatus, PublicTrade, TickerUpdate, TimeInForce
from titan_common.messages import OrderType, Side

Call = tuple[str, str, str, str, dict[str, Any]]


class Recorder:
    """Stands in for MexcHttp.call: records each request and answers from `answers`."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.calls: list[Call] = []
        self.answers = answers or {}

    async def __call__(
        self, section: str, access: str, method: str, path: str, params: dict[str, Any] | None = None
    ) -> Any:
        self.calls.append((section, access, method, path, dict(params or {})))
        answer = self.answers.get(f"{method} {path}")
        if isinstance(answer, Exception):
            raise answer
        return answer(params or {}) if callable(answer) else answer


@pytest.fixture
async def adapter() -> AsyncIterator[MexcAdapter]:
    mexc = MexcAdapter(MexcConfig("http://127.0.0.1:1", "k", "s", symbols=("ETHUSDT",)))
    yield mexc
    await mexc.close()


def recorder(adapter: MexcAdapter, answers: dict[str, Any] | None = None) -> Recorder:
    rec = Recorder(answers)
    adapter.http.call = rec  # type: ignore[method-assign]
    return rec


async def test_a_market_buy_sends_the_base_quantity_and_the_titan_client_id(adapter: MexcAdapter) -> None:
    rec = recorder(adapter, {"POST order": {"symbol": "BTCUSDT", "orderId": "O1", "orderListId": -1}})
    ack = await adapter.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("0.0100"), "t-1"))
    assert (ack.order_id, ack.client_order_id) == ("O1", "t-1")
    assert rec.calls == [
        (
            "spot",
            "private",
            "POST",
            "order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "t-1"},
        )
    ]


@pytest.mark.parametrize(
    ("tif", "mexc_type"),
    [
        (None, "LIMIT"),
        (TimeInForce.GTC, "LIMIT"),
        (TimeInForce.POST_ONLY, "LIMIT_MAKER"),
        (TimeInForce.IOC, "IMMEDIATE_OR_CANCEL"),
        (TimeInForce.FOK, "FILL_OR_KILL"),
    ],
)
async def test_a_limit_order_says_its_time_in_force_through_its_type(
    adapter: MexcAdapter, tif: TimeInForce | None, mexc_type: str
) -> None:
    rec = recorder(adapter, {"POST order": {"orderId": "O2"}})
    await adapter.place_order(
        PlaceOrder("BTCUSDT", Side.SELL, D("1"), "t-2", OrderType.LIMIT, price=D("60000.50"), time_in_force=tif)
    )
    params = rec.calls[0][4]
    assert (params["type"], params["price"], params["side"]) == (mexc_type, "60000.5", "SELL")


@pytest.mark.parametrize(
    "stop", [{"stop_loss": D("1")}, {"take_profit": D("2")}, {"trigger_price": D("3"), "trigger_direction": 1}]
)
async def test_an_order_with_a_stop_is_refused_never_sent_without_it(
    adapter: MexcAdapter, stop: dict[str, Any]
) -> None:
    rec = recorder(adapter)
    with pytest.raises(OrderRejected, match="MEXC spot has no stop orders through the API"):
        await adapter.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-3", **stop))
    assert rec.calls == []


async def test_stops_amends_and_leverage_are_refused(adapter: MexcAdapter) -> None:
    rec = recorder(adapter)
    with pytest.raises(OrderRejected, match=C.NO_STOPS):
        await adapter.set_trading_stop("BTCUSDT", stop_loss=D("1"))
    with pytest.raises(OrderRejected, match=C.NO_STOPS):
        await adapter.amend_order("BTCUSDT", "t-1", stop_loss=D("1"))
    with pytest.raises(OrderRejected, match="cannot amend"):
        await adapter.amend_order("BTCUSDT", "t-1", price=D("1"))
    await adapter.set_leverage("BTCUSDT", 1)  # a no-op
    with pytest.raises(OrderRejected, match="leverage 3 refused"):
        await adapter.set_leverage("BTCUSDT", 3)
    assert rec.calls == []
    assert await adapter.positions() == []
    assert await adapter.funding_history("BTCUSDT") == []
    assert await adapter.open_interest("BTCUSDT") == []
    assert adapter.private_stream_connected() is None
    assert [e async for e in adapter.private_events()] == []


async def test_a_reduce_only_buy_is_refused_on_a_long_only_venue(adapter: MexcAdapter) -> None:
    rec = recorder(adapter, {"POST order": {"orderId": "O"}})
    with pytest.raises(OrderRejected, match="long-only"):
        await adapter.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-10", reduce_only=True))
    await adapter.place_order(PlaceOrder("BTCUSDT", Side.SELL, D("1"), "t-11", reduce_only=True))
    assert [c[4]["newClientOrderId"] for c in rec.calls] == ["t-11"]


async def test_spot_trading_is_allowed_unless_the_account_says_it_cannot_trade(adapter: MexcAdapter) -> None:
    rec = recorder(adapter, {"GET account": {"canTrade": True, "balances": []}})
    await adapter.check_trading_allowed()
    rec.answers["GET account"] = {"canTrade": False, "balances": []}
    with pytest.raises(TradingNotAllowed, match="canTrade=false"):
        await adapter.check_trading_allowed()


async def test_watched_symbols_are_covered_by_symbol_less_queries(adapter: MexcAdapter) -> None:
    rec = recorder(adapter, {"GET openOrders": []})
    adapter.watch_symbols(["SOLUSDT", "ETHUSDT"])
    assert adapter.known_symbols == ["ETHUSDT", "SOLUSDT"]
    await adapter.open_orders()
    assert [c[4]["symbol"] for c in rec.calls] == ["ETHUSDT", "SOLUSDT"]


async def test_symbol_less_queries_cover_settings_and_every_symbol_touched(adapter: MexcAdapter) -> None:
    trade = {"symbol": "X", "id": "1", "orderId": "o", "price": "1", "qty": "1", "commission": "0",
             "commissionAsset": "USDT", "time": 5, "isBuyer": True, "isMaker": False}  # fmt: skip
    rec = recorder(
        adapter,
        {
            "POST order": {"orderId": "O"},
            "GET myTrades": lambda p: [trade | {"symbol": p["symbol"], "id": p["symbol"]}],
            "GET openOrders": [],
        },
    )
    await adapter.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-4"))
    fills = await adapter.executions_since(123)
    asked = [(c[3], c[4]["symbol"], c[4].get("startTime")) for c in rec.calls[1:]]
    assert asked == [("myTrades", "ETHUSDT", 123), ("myTrades", "BTCUSDT", 123)]
    assert {f.symbol for f in fills} == {"ETHUSDT", "BTCUSDT"}
    await adapter.open_orders()
    assert [c[4]["symbol"] for c in rec.calls[3:]] == ["ETHUSDT", "BTCUSDT"]


async def test_executions_page_forward_past_a_full_page(adapter: MexcAdapter) -> None:
    def page(params: dict[str, Any]) -> list[dict[str, Any]]:
        start = params["startTime"]
        base = {"symbol": "BTCUSDT", "orderId": "o", "price": "1", "qty": "1", "commission": "0",
                "commissionAsset": "USDT", "isBuyer": True, "isMaker": False}  # fmt: skip
        if start == 0:
            return [base | {"id": f"a{i}", "time": 1000 + i} for i in range(100)]
        return [base | {"id": "a99", "time": 1099}, base | {"id": "b", "time": 2000}]

    rec = recorder(adapter, {"GET myTrades": page})
    fills = await adapter.executions_since(0, "BTCUSDT")
    assert [c[4]["startTime"] for c in rec.calls] == [0, 1099]
    assert len(fills) == 101
    assert fills[-1].exec_id == "b"


async def test_order_by_client_id_is_none_when_the_venue_knows_no_such_order(adapter: MexcAdapter) -> None:
    from titan_common.exchanges import OrderNotFound

    rec = recorder(adapter, {"GET order": OrderNotFound("Unknown order sent.", -2011)})
    assert await adapter.order_by_client_id("BTCUSDT", "t-9") is None
    assert rec.calls[0][4] == {"symbol": "BTCUSDT", "origClientOrderId": "t-9"}
    rec.answers["GET order"] = {
        "symbol": "BTCUSDT", "orderId": "O9", "clientOrderId": "t-9", "price": "1", "origQty": "2",
        "executedQty": "2", "cummulativeQuoteQty": "2", "status": "FILLED", "type": "LIMIT", "side": "BUY",
    }  # fmt: skip
    found = await adapter.order_by_client_id("BTCUSDT", "t-9")
    assert found is not None
    assert found.status is OrderStatus.FILLED


async def test_cancel_by_client_id_or_order_id_and_cancel_all(adapter: MexcAdapter) -> None:
    rec = recorder(
        adapter,
        {
            "DELETE order": {},
            "GET openOrders": lambda p: (
                [{"symbol": "BTCUSDT", "orderId": "1", "side": "BUY", "status": "NEW", "origQty": "1"}]
                if p["symbol"] == "BTCUSDT"
                else []
            ),
            "DELETE openOrders": lambda p: [{"orderId": "1"}],
        },
    )
    await adapter.cancel_order("BTCUSDT", client_order_id="t-1")
    await adapter.cancel_order("BTCUSDT", order_id="77")
    assert [c[4] for c in rec.calls] == [
        {"symbol": "BTCUSDT", "origClientOrderId": "t-1"},
        {"symbol": "BTCUSDT", "orderId": "77"},
    ]
    with pytest.raises(ValueError, match="needs client_order_id or order_id"):
        await adapter.cancel_order("BTCUSDT")
    rec.calls.clear()
    assert await adapter.cancel_all() == 1  # only the symbol with open orders is cancelled
    assert [(c[2], c[3], c[4]["symbol"]) for c in rec.calls if c[2] == "DELETE"] == [
        ("DELETE", "openOrders", "BTCUSDT")
    ]


async def test_klines_speak_titans_intervals(adapter: MexcAdapter) -> None:
    rec = recorder(adapter, {"GET klines": [[60_000, "1", "2", "0.5", "1.5", "10", 119_999, "15"]]})
    bars = await adapter.klines("BTCUSDT", "15", limit=3, end_ms=10_000_000)
    assert rec.calls[0][4] == {
        "symbol": "BTCUSDT",
        "interval": "15m",
        "limit": 3,
        "startTime": 10_000_000 - 3 * 900_000,
        "endTime": 10_000_000,
    }
    assert bars[0].turnover == D("15")


async def test_swap_mode_reads_contracts_and_refuses_to_trade() -> None:
    swap = MexcAdapter(MexcConfig("http://127.0.0.1:1", "k", "s", market="swap"))
    try:
        detail = {"success": True, "code": 0, "data": [{"symbol": "BTC_USDT", "priceUnit": "0.1", "volUnit": "1",
                  "minVol": "1", "maxVol": "100", "state": 0, "apiAllowed": False}]}  # fmt: skip
        rec = recorder(swap, {"GET detail": detail})
        (filters,) = await swap.instruments()
        assert filters.symbol == "BTCUSDT"
        assert not filters.trading
        with pytest.raises(TradingNotAllowed, match=r"apiAllowed=false for BTC_USDT.*does not trade MEXC futures"):
            await swap.check_trading_allowed()
        with pytest.raises(TradingNotAllowed):
            await swap.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-5"))
        assert all(c[:4] == ("contract", "public", "GET", "detail") for c in rec.calls)
        rec.answers["GET detail"] = OutcomeUnknown("MEXC HTTP 502")  # unread: refused all the same
        with pytest.raises(TradingNotAllowed, match="does not trade MEXC futures"):
            await swap.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-5"))
    finally:
        await swap.close()


# --- the REST-polled public feed ------------------------------------------------------------


async def test_the_public_feed_polls_tickers_trades_and_bars() -> None:
    tape: list[dict[str, Any]] = [{"id": None, "price": "100", "qty": "1", "time": 1000, "isBuyerMaker": True}]
    rec = Recorder(
        {
            "GET ticker/24hr": [{"symbol": "BTCUSDT", "lastPrice": "100.5"}, {"symbol": "XRPUSDT", "lastPrice": "1"}],
            "GET trades": lambda p: list(tape),
            "GET klines": [[60_000, "1", "2", "0.5", "1.5", "10", 119_999, "15"]],
        }
    )
    poller = PublicPoller(rec, ["BTCUSDT", "ETHUSDT"], ["trade", "ticker", "kline.15"], poll_s=0)
    first = await poller.poll_once()
    tickers = [e for e in first if e.kind == "ticker"]
    assert [(e.symbol, e.data) for e in tickers] == [("BTCUSDT", TickerUpdate(100.5, None, None, None, None))]
    assert not [e for e in first if e.kind == "trade"]  # the backlog is not news
    assert {e.symbol for e in first if e.kind == "kline"} == {"BTCUSDT", "ETHUSDT"}
    assert poller.last_public_ms > 0
    tape.append({"id": None, "price": "101", "qty": "1", "time": 2000, "isBuyerMaker": False})
    second = await poller.poll_once()
    trades = [e for e in second if e.kind == "trade"]
    assert [(e.symbol, e.data) for e in trades] == [
        ("BTCUSDT", [PublicTrade(2000, True, 101.0)]),
        ("ETHUSDT", [PublicTrade(2000, True, 101.0)]),
    ]
    assert [c[4].get("interval") for c in rec.calls if c[3] == "klines"][:1] == ["15m"]


async def test_a_failing_poll_is_logged_and_the_feed_goes_on() -> None:
    state = {"fail": True}

    def tickers(_params: dict[str, Any]) -> Any:
        if state["fail"]:
            state["fail"] = False
            raise OutcomeUnknown("MEXC HTTP 502")
        return {"symbol": "BTCUSDT", "lastPrice": "1"}

    rec = Recorder({"GET ticker/24hr": tickers})
    poller = PublicPoller(rec, ["BTCUSDT"], ["ticker"], poll_s=0.01)
    events = []
    async for event in poller.events():
        events.append(event)
        break
    assert events[0].kind == "ticker"
    assert poller.failed_polls == 1


def test_unknown_public_topics_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"unsupported public topic 'orderbook\.50'"):
        PublicPoller(Recorder(), ["BTCUSDT"], ["orderbook.50"])
    with pytest.raises(ValueError, match="no kline interval"):
        PublicPoller(Recorder(), ["BTCUSDT"], ["kline.7"])
