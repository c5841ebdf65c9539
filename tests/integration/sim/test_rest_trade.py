"""Order entry, queries, positions and the wallet through unmodified pybit, with the
arithmetic checked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError

from tests.integration.sim.conftest import Sim

pytestmark = pytest.mark.integration
D = Decimal
MAKER, TAKER = D("0.0002"), D("0.00055")


def _book(sim: Sim, symbol: str = "BTCUSDT") -> tuple[list[tuple[D, D]], list[tuple[D, D]]]:
    result = sim.http().get_orderbook(category="linear", symbol=symbol, limit=50)["result"]
    return [(D(p), D(q)) for p, q in result["b"]], [(D(p), D(q)) for p, q in result["a"]]


def _wallet(sim: Sim) -> dict[str, str]:
    row: dict[str, str] = sim.http().get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
    return row


def _position(sim: Sim, symbol: str = "BTCUSDT") -> dict[str, str]:
    row: dict[str, str] = sim.http().get_positions(category="linear", symbol=symbol)["result"]["list"][0]
    return row


def _walk(levels: list[tuple[D, D]], qty: D) -> list[tuple[D, D]]:
    """Hand-simulate a market order walking the book: [(price, qty)] fills."""
    fills, left = [], qty
    for price, size in levels:
        take = min(left, size)
        fills.append((price, take))
        left -= take
        if left == 0:
            return fills
    raise AssertionError("book too thin for the test")


@pytest.fixture
def frozen(sim: Sim) -> Sim:
    """The crowd stands still: prices and the book change only through our own orders."""
    sim.post("/sim/clock", {"paused": True})
    return sim


def test_market_buy_then_sell_pnl_and_fees_match_hand_calculation(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    start = D(_wallet(sim)["totalWalletBalance"])
    assert start == D(10000)
    bids, asks = _book(sim)
    qty = asks[0][1] + D("0.002")  # walks into the second level: slippage
    buys = _walk(asks, qty)
    placed = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty=str(qty),
                                 orderLinkId="pnl-buy")["result"]  # fmt: skip
    assert placed["orderLinkId"] == "pnl-buy"
    assert placed["orderId"]
    execs = session.get_executions(category="linear", symbol="BTCUSDT", orderId=placed["orderId"])["result"]["list"]
    got = sorted((D(e["execPrice"]), D(e["execQty"])) for e in execs)
    assert got == sorted(buys)
    for e in execs:
        assert D(e["execValue"]) == D(e["execPrice"]) * D(e["execQty"])
        assert D(e["execFee"]) == D(e["execValue"]) * TAKER
        assert e["feeRate"] == "0.00055"
        assert e["isMaker"] is False
        assert e["execType"] == "Trade"
    buy_value = sum(p * q for p, q in buys)
    buy_fee = buy_value * TAKER
    avg = buy_value / qty
    order = session.get_open_orders(category="linear", orderLinkId="pnl-buy")["result"]["list"][0]
    assert order["orderStatus"] == "Filled"
    assert D(order["cumExecQty"]) == qty
    assert order["leavesQty"] == "0.000"
    assert D(order["cumExecFee"]) == buy_fee
    assert abs(D(order["avgPrice"]) - avg) < D("1e-8")

    pos = _position(sim)
    mark = D(pos["markPrice"])
    assert pos["side"] == "Buy"
    assert D(pos["size"]) == qty
    assert abs(D(pos["avgPrice"]) - avg) < D("1e-8")
    assert abs(D(pos["unrealisedPnl"]) - (mark - avg) * qty) < D("1e-8")
    assert D(pos["positionValue"]) == pytest.approx(qty * avg)
    wallet = _wallet(sim)
    assert D(wallet["totalWalletBalance"]) == start - buy_fee
    assert abs(D(wallet["totalEquity"]) - (start - buy_fee + (mark - avg) * qty)) < D("1e-8")
    im = qty * avg / D(pos["leverage"])
    assert abs(D(wallet["totalInitialMargin"]) - im) < D("1e-8")
    assert abs(D(wallet["totalAvailableBalance"]) - (D(wallet["totalEquity"]) - im)) < D("1e-8")

    sells = _walk(bids, qty)
    session.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty=str(qty),
                        reduceOnly=True, orderLinkId="pnl-sell")  # fmt: skip
    sell_value = sum(p * q for p, q in sells)
    sell_fee = sell_value * TAKER
    realised = sell_value - buy_value
    closing = session.get_executions(category="linear", symbol="BTCUSDT", orderLinkId="pnl-sell")["result"]["list"]
    assert sum(D(e["closedSize"]) for e in closing) == qty
    pos = _position(sim)
    assert pos["size"] == "0.000"
    assert pos["side"] == ""
    wallet = _wallet(sim)
    expected = start + realised - buy_fee - sell_fee
    assert abs(D(wallet["totalWalletBalance"]) - expected) < D("1e-8")
    assert abs(D(wallet["coin"][0]["cumRealisedPnl"]) - (realised - buy_fee - sell_fee)) < D("1e-8")
    assert D(wallet["totalInitialMargin"]) == 0


def test_maker_fill_pays_the_maker_fee(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    bids, _asks = _book(sim)
    price = bids[0][0] + D("0.5")  # inside the spread: best bid
    placed = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                                 price=str(price), orderLinkId="maker-1")["result"]  # fmt: skip
    open_row = session.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert open_row["orderId"] == placed["orderId"]
    assert open_row["orderStatus"] == "New"
    assert D(_wallet(sim)["coin"][0]["totalOrderIM"]) == D("0.01") * price / 10
    # someone sells into us: a manual (human) market sell from the exchange's website
    sim.post("/sim/positions", {"symbol": "BTCUSDT", "side": "Sell", "size": "0.01"})
    fills = session.get_executions(category="linear", orderLinkId="maker-1")["result"]["list"]
    assert len(fills) == 1
    assert fills[0]["isMaker"] is True
    assert D(fills[0]["execFee"]) == D("0.01") * price * MAKER
    assert fills[0]["feeRate"] == "0.0002"


def test_limit_tifs_postonly_ioc_fok(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    session.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="50", sellLeverage="50")
    _bids, asks = _book(sim)
    best_ask = asks[0][0]

    def place(**kw: str) -> dict[str, str]:
        oid = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", **kw)["result"]
        row: dict[str, str] = session.get_open_orders(category="linear", orderId=oid["orderId"])["result"]["list"][0]
        return row

    post = place(qty="0.01", price=str(best_ask), timeInForce="PostOnly")
    assert post["orderStatus"] == "Cancelled"
    assert post["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    ioc = place(qty=str(asks[0][1] + D("0.05")), price=str(best_ask), timeInForce="IOC")
    assert ioc["orderStatus"] == "Cancelled"
    assert D(ioc["cumExecQty"]) == asks[0][1]
    _bids, asks = _book(sim)
    fok = place(qty=str(asks[0][1] + D("0.05")), price=str(asks[0][0]), timeInForce="FOK")
    assert fok["orderStatus"] == "Cancelled"
    assert D(fok["cumExecQty"]) == 0
    gtc = place(qty="0.002", price=str(asks[0][0]), timeInForce="GTC")
    assert gtc["orderStatus"] == "Filled"


def test_cancel_amend_cancel_all_and_lookups(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    bids, _asks = _book(sim)
    low = bids[10][0]
    ids = []
    for i in range(3):
        ids.append(session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                                       qty="0.001", price=str(low - i), orderLinkId=f"rest-{i}")["result"])  # fmt: skip
    amended = session.amend_order(category="linear", symbol="BTCUSDT", orderLinkId="rest-0", qty="0.002",
                                  price=str(low - 5))["result"]  # fmt: skip
    assert amended["orderId"] == ids[0]["orderId"]
    row = session.get_open_orders(category="linear", orderLinkId="rest-0")["result"]["list"][0]
    assert (row["qty"], D(row["price"])) == ("0.002", low - 5)
    cancelled = session.cancel_order(category="linear", symbol="BTCUSDT", orderId=ids[1]["orderId"])["result"]
    assert cancelled == ids[1]
    # a finished order is still found by id: reconciliation depends on it
    row = session.get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="rest-1")["result"]["list"][0]
    assert row["orderStatus"] == "Cancelled"
    assert row["cancelType"] == "CancelByUser"
    open_rows = session.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert {r["orderLinkId"] for r in open_rows} == {"rest-0", "rest-2"}
    result = session.cancel_all_orders(category="linear", symbol="BTCUSDT")["result"]
    assert result["success"] == "1"
    assert {r["orderLinkId"] for r in result["list"]} == {"rest-0", "rest-2"}
    assert session.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"] == []
    history = session.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert [h["orderLinkId"] for h in history] == ["rest-2", "rest-1", "rest-0"]
    for key in ("orderId", "orderLinkId", "symbol", "side", "price", "qty", "orderType", "timeInForce", "orderStatus",
                "rejectReason", "cancelType", "avgPrice", "leavesQty", "cumExecQty", "cumExecValue", "cumExecFee",
                "triggerPrice", "takeProfit", "stopLoss", "reduceOnly", "closeOnTrigger", "createdTime",
                "updatedTime"):  # fmt: skip
        assert key in history[0], key


def test_pagination_cursors(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    _bids, _asks = _book(sim)
    for i in range(7):
        session.place_order(category="linear", symbol="ETHUSDT", side="Sell", orderType="Market", qty="0.01",
                            orderLinkId=f"page-{i}")  # fmt: skip
    seen: list[str] = []
    cursor = ""
    while True:
        page = session.get_order_history(category="linear", symbol="ETHUSDT", limit=3, cursor=cursor)["result"]
        seen += [row["orderLinkId"] for row in page["list"]]
        cursor = page["nextPageCursor"]
        if not cursor:
            break
    assert seen == [f"page-{i}" for i in reversed(range(7))]
    execs: list[str] = []
    cursor = ""
    while True:
        page = session.get_executions(category="linear", symbol="ETHUSDT", limit=2, cursor=cursor)["result"]
        execs += [row["execId"] for row in page["list"]]
        cursor = page["nextPageCursor"]
        if not cursor:
            break
    assert len(execs) == len(set(execs)) >= 7


def test_positions_leverage_and_trading_stop(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    flat = _position(sim, "SOLUSDT")
    assert flat["size"] == "0.0"
    assert flat["side"] == ""
    assert flat["leverage"] == "10"
    for key in ("symbol", "side", "size", "avgPrice", "positionValue", "leverage", "markPrice", "liqPrice",
                "takeProfit", "stopLoss", "trailingStop", "unrealisedPnl", "cumRealisedPnl", "positionIdx",
                "createdTime", "updatedTime"):  # fmt: skip
        assert key in flat, key
    session.set_leverage(category="linear", symbol="SOLUSDT", buyLeverage="5", sellLeverage="5")
    with pytest.raises(InvalidRequestError) as err:
        session.set_leverage(category="linear", symbol="SOLUSDT", buyLeverage="5", sellLeverage="5")
    assert err.value.status_code == 110043
    session.place_order(category="linear", symbol="SOLUSDT", side="Sell", orderType="Market", qty="10")
    pos = _position(sim, "SOLUSDT")
    assert pos["side"] == "Sell"
    assert pos["leverage"] == "5"
    avg = D(pos["avgPrice"])
    assert D(pos["liqPrice"]) == pytest.approx(avg * D("1.2"), rel=D("0.001"))
    mark = D(pos["markPrice"])
    session.set_trading_stop(category="linear", symbol="SOLUSDT", positionIdx=0, tpslMode="Full",
                             takeProfit=str(mark - 5), stopLoss=str(mark + 5))  # fmt: skip
    pos = _position(sim, "SOLUSDT")
    assert D(pos["takeProfit"]) == mark - 5
    assert D(pos["stopLoss"]) == mark + 5
    with pytest.raises(InvalidRequestError) as err:
        session.set_trading_stop(category="linear", symbol="SOLUSDT", positionIdx=0, takeProfit=str(mark - 5))
    assert err.value.status_code == 34040
    session.set_trading_stop(category="linear", symbol="SOLUSDT", positionIdx=0, takeProfit="0")
    assert _position(sim, "SOLUSDT")["takeProfit"] == "0"
    listed = session.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    assert [p["symbol"] for p in listed] == ["SOLUSDT"]


def test_conditional_order_waits_then_triggers(frozen: Sim) -> None:
    sim = frozen
    session = sim.http()
    last = D(session.get_tickers(category="linear", symbol="ETHUSDT")["result"]["list"][0]["lastPrice"])
    trigger = last * D("1.01")
    placed = session.place_order(
        category="linear", symbol="ETHUSDT", side="Buy", orderType="Market", qty="0.1",
        triggerPrice=f"{trigger:.2f}", triggerDirection=1, orderLinkId="stop-1",
    )["result"]  # fmt: skip
    row = session.get_open_orders(category="linear", orderId=placed["orderId"])["result"]["list"][0]
    assert row["orderStatus"] == "Untriggered"
    assert row["stopOrderType"] == "Stop"
    sim.post("/sim/market/ETHUSDT/burst", {"pct": 2, "trades": 50, "window_ms": 50})

    def filled() -> bool:
        rows = session.get_open_orders(category="linear", orderId=placed["orderId"])["result"]["list"]
        return bool(rows[0]["orderStatus"] == "Filled")

    from tests.integration.sim.conftest import wait_until

    wait_until(filled, timeout=5)
    assert _position(sim, "ETHUSDT")["side"] == "Buy"


def test_determinism_same_seed_same_flow_same_fills(sim: Sim) -> None:
    def run() -> list[tuple[str, str, str]]:
        sim.post("/sim/reset", {"paused": True})
        session = sim.http()
        for side, qty in (("Buy", "0.5"), ("Sell", "0.2"), ("Sell", "0.9")):
            session.place_order(category="linear", symbol="BTCUSDT", side=side, orderType="Market", qty=qty)
        rows = session.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
        return [(r["side"], r["execPrice"], r["execQty"]) for r in rows]

    assert run() == run()
