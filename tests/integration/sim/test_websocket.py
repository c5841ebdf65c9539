"""Public and private WebSocket streams through unmodified pybit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import websocket
from pybit.unified_trading import WebSocketTrading

from tests.integration.sim.conftest import API_KEY, API_SECRET, Sim, wait_until

pytestmark = pytest.mark.integration
D = Decimal


class Collector:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(message)

    def items(self, topic: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            chosen = [m for m in self.messages if topic is None or m["topic"] == topic]
        return [item for m in chosen for item in m["data"]]


@contextmanager
def public_ws(sim: Sim) -> Iterator[Any]:
    """pybit's public linear stream on the simulator, closed on the way out."""
    ws = sim.ws_public()
    try:
        yield ws
    finally:
        ws.exit()


def test_public_trades_arrive(sim: Sim) -> None:
    trades = Collector()
    with public_ws(sim) as ws:
        ws.trade_stream(["BTCUSDT", "ETHUSDT"], trades)
        sim.post("/sim/market/BTCUSDT/burst", {"pct": 1, "trades": 60, "window_ms": 100})
        wait_until(lambda: len(trades.items("publicTrade.BTCUSDT")) >= 60, timeout=10)
        item = trades.items("publicTrade.BTCUSDT")[0]
        assert set(item) == {"T", "s", "S", "v", "p", "L", "i", "BT", "seq"}
        assert item["s"] == "BTCUSDT"
        assert item["S"] in ("Buy", "Sell")
        assert item["BT"] is False
        wait_until(lambda: trades.items("publicTrade.ETHUSDT"), timeout=10)


def test_burst_is_fifty_trades_within_a_hundred_ms(sim: Sim) -> None:
    trades = Collector()
    with public_ws(sim) as ws:
        ws.trade_stream("SOLUSDT", trades)
        time.sleep(0.3)
        sim.post("/sim/clock", {"paused": True})
        time.sleep(0.2)
        before = len(trades.items())
        start = D(sim.http().get_tickers(category="linear", symbol="SOLUSDT")["result"]["list"][0]["markPrice"])
        sim.post("/sim/market/SOLUSDT/burst", {"pct": 3, "trades": 60, "window_ms": 100})
        wait_until(lambda: len(trades.items()) - before >= 60, timeout=10)
        burst = trades.items()[before:]
        times = [int(t["T"]) for t in burst]
        assert max(times) - min(times) <= 100
        assert all(t["S"] == "Buy" for t in burst)
        assert D(burst[-1]["p"]) >= start * D("1.025")


def test_ten_thousand_orderbook_deltas_stay_consistent_with_rest(sim: Sim) -> None:
    book50 = Collector()
    book1 = Collector()
    with public_ws(sim) as ws:
        ws.orderbook_stream(50, "BTCUSDT", book50)
        ws.orderbook_stream(1, "BTCUSDT", book1)
        wait_until(lambda: book50.messages and book1.messages, timeout=10)
        time.sleep(1.0)  # some live-market deltas first
        sim.post("/sim/clock", {"paused": True})
        sim.post("/sim/market/BTCUSDT/book-noise", {"updates": 12_000})

        def settled() -> bool:
            count = len(book50.messages)
            time.sleep(0.4)
            return len(book50.messages) == count

        wait_until(settled, timeout=60)
        assert len(book50.messages) > 10_000
        assert ws.is_connected()  # pybit drops the socket on any delta it cannot apply
        rest = sim.http().get_orderbook(category="linear", symbol="BTCUSDT", limit=50)["result"]
        merged = ws.data["orderbook.50.BTCUSDT"]
        bids = sorted(merged["b"], key=lambda lv: D(lv[0]), reverse=True)
        asks = sorted(merged["a"], key=lambda lv: D(lv[0]))
        assert bids == rest["b"]
        assert asks == rest["a"]
        top = ws.data["orderbook.1.BTCUSDT"]
        assert top["b"] == rest["b"][:1]
        assert top["a"] == rest["a"][:1]


def test_tickers_and_klines(sim: Sim) -> None:
    tickers = Collector()
    klines = Collector()
    with public_ws(sim) as ws:
        ws.ticker_stream("ETHUSDT", tickers)
        ws.kline_stream(1, "ETHUSDT", klines)
        ws.kline_stream(60, "ETHUSDT", klines)
        wait_until(lambda: len(tickers.messages) >= 3, timeout=10)
        merged = ws.data["tickers.ETHUSDT"]
        for key in ("lastPrice", "markPrice", "bid1Price", "ask1Price", "fundingRate", "nextFundingTime", "volume24h"):
            assert merged[key], key
        wait_until(lambda: {m["topic"] for m in klines.messages} == {"kline.1.ETHUSDT", "kline.60.ETHUSDT"})
        bar = klines.items("kline.60.ETHUSDT")[0]
        assert set(bar) >= {"start", "end", "interval", "open", "close", "high", "low", "volume", "turnover",
                            "confirm", "timestamp"}  # fmt: skip
        assert bar["interval"] == "60"
        assert bar["end"] - bar["start"] == 3_600_000 - 1
        assert D(bar["low"]) <= D(bar["close"]) <= D(bar["high"])


def test_raw_ping_and_subscribe_ack(sim: Sim) -> None:
    conn = websocket.create_connection(f"ws://127.0.0.1:{sim.port}/v5/public/linear", timeout=5)
    try:
        conn.send(json.dumps({"op": "ping", "req_id": "p1"}))
        pong = json.loads(conn.recv())
        assert pong["ret_msg"] == "pong"
        assert pong["op"] == "ping"
        assert pong["success"] is True
        conn.send(json.dumps({"op": "subscribe", "req_id": "s1", "args": ["orderbook.1.BTCUSDT"]}))
        ack = json.loads(conn.recv())
        assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "s1", "op": "subscribe"}
        first = json.loads(conn.recv())
        assert first["topic"] == "orderbook.1.BTCUSDT"
        assert first["type"] == "snapshot"
    finally:
        conn.close()
    private = websocket.create_connection(f"ws://127.0.0.1:{sim.port}/v5/private", timeout=5)
    try:
        private.send(json.dumps({"op": "ping"}))
        pong = json.loads(private.recv())
        assert pong["op"] == "pong"
        assert pong["args"]
    finally:
        private.close()


def test_private_order_execution_position_wallet_after_a_fill(sim: Sim) -> None:
    ws = sim.ws_private()
    orders, executions, positions, wallets = Collector(), Collector(), Collector(), Collector()
    try:
        ws.order_stream(orders)
        ws.execution_stream(executions)
        ws.position_stream(positions)
        ws.wallet_stream(wallets)
        time.sleep(0.3)
        placed = sim.http().place_order(category="linear", symbol="ETHUSDT", side="Buy", orderType="Market",
                                        qty="0.5", orderLinkId="ws-fill-1")["result"]  # fmt: skip
        wait_until(lambda: [o for o in orders.items() if o["orderStatus"] == "Filled"], timeout=5)
        order = [o for o in orders.items() if o["orderLinkId"] == "ws-fill-1"][-1]
        assert order["orderId"] == placed["orderId"]
        assert order["category"] == "linear"
        wait_until(lambda: executions.items(), timeout=5)
        fills = [e for e in executions.items() if e["orderLinkId"] == "ws-fill-1"]
        assert sum(D(f["execQty"]) for f in fills) == D("0.5")
        assert all(f["execType"] == "Trade" and f["category"] == "linear" for f in fills)
        wait_until(lambda: positions.items() and wallets.items(), timeout=5)
        assert positions.items()[-1]["side"] == "Buy"
        assert positions.items()[-1]["size"] == "0.50"
        rest_wallet = sim.http().get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
        assert wallets.items()[-1]["totalWalletBalance"] == rest_wallet["totalWalletBalance"]
        topics = {m["topic"] for m in orders.messages + executions.messages + positions.messages + wallets.messages}
        assert topics == {"order", "execution", "position", "wallet"}
        assert all({"id", "topic", "creationTime", "data"} <= set(m) for m in orders.messages)
    finally:
        ws.exit()


@contextmanager
def executions_paused(sim: Sim) -> Iterator[Collector]:
    """The private execution stream, subscribed; then the market clock paused, so that nothing
    moves but what the test does."""
    ws = sim.ws_private()
    executions = Collector()
    try:
        ws.execution_stream(executions)
        time.sleep(0.2)
        sim.post("/sim/clock", {"paused": True})
        yield executions
    finally:
        ws.exit()


def test_take_profit_triggers_on_mark_price(sim: Sim) -> None:
    session = sim.http()
    with executions_paused(sim) as executions:
        session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01")
        mark = D(session.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]["markPrice"])
        take_profit = (mark * D("1.005")).quantize(D("0.1"))
        session.set_trading_stop(category="linear", symbol="BTCUSDT", positionIdx=0, takeProfit=str(take_profit))
        sim.post("/sim/market/BTCUSDT/burst", {"pct": 1, "trades": 50, "window_ms": 50})

        def flat() -> bool:
            pos = session.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
            return bool(pos["size"] == "0.000")

        wait_until(flat, timeout=5)
        closing = [e for e in executions.items() if e["stopOrderType"] == "TakeProfit"]
        assert closing
        assert sum(D(e["closedSize"]) for e in closing) == D("0.01")
        history = session.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
        assert history[0]["createType"] == "CreateByTakeProfit"
        assert history[0]["orderStatus"] == "Filled"
        assert history[0]["reduceOnly"] is True


def test_stop_loss_attached_on_create_triggers(sim: Sim) -> None:
    session = sim.http()
    sim.post("/sim/clock", {"paused": True})
    mark = D(session.get_tickers(category="linear", symbol="ETHUSDT")["result"]["list"][0]["markPrice"])
    stop = (mark * D("0.995")).quantize(D("0.01"))
    session.place_order(category="linear", symbol="ETHUSDT", side="Buy", orderType="Market", qty="0.3",
                        stopLoss=str(stop), orderLinkId="with-sl")  # fmt: skip
    pos = session.get_positions(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    assert D(pos["stopLoss"]) == stop
    sim.post("/sim/market/ETHUSDT/burst", {"pct": -1, "trades": 50, "window_ms": 50})
    wait_until(
        lambda: session.get_positions(category="linear", symbol="ETHUSDT")["result"]["list"][0]["size"] == "0.00"
    )
    history = session.get_order_history(category="linear", symbol="ETHUSDT")["result"]["list"]
    assert history[0]["stopOrderType"] == "StopLoss"


def test_funding_payment_is_an_execution(sim: Sim) -> None:
    session = sim.http()
    with executions_paused(sim) as executions:
        session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.1")
        ticker = session.get_tickers(category="linear", symbol="BTCUSDT")["result"]["list"][0]
        rate, mark = D(ticker["fundingRate"]), D(ticker["markPrice"])
        before = D(session.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["totalWalletBalance"])
        now = sim.control.get("/sim/health").json()["clock"]["now"]
        sim.post("/sim/clock", {"advance_ms": int(ticker["nextFundingTime"]) - now + 1})
        funding = session.get_executions(category="linear", symbol="BTCUSDT", execType="Funding")["result"]["list"]
        assert len(funding) == 1
        row = funding[0]
        payment = D("0.1") * mark * rate  # a long pays a positive rate
        assert D(row["execFee"]) == payment
        assert D(row["feeRate"]) == rate
        assert D(row["execPrice"]) == mark
        after = D(session.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["totalWalletBalance"])
        assert after == before - payment
        wait_until(lambda: [e for e in executions.items() if e["execType"] == "Funding"], timeout=5)
        history = session.get_funding_rate_history(category="linear", symbol="BTCUSDT", limit=1)["result"]["list"]
        assert D(history[0]["fundingRate"]) == rate
        nxt = session.get_tickers(category="linear", symbol="BTCUSDT")["result"]["list"][0]["nextFundingTime"]
        assert int(nxt) == int(ticker["nextFundingTime"]) + 8 * 3_600_000


def test_order_entry_over_the_trade_websocket(sim: Sim) -> None:
    sim._patch()
    replies = Collector()
    trade_ws = WebSocketTrading(testnet=False, api_key=API_KEY, api_secret=API_SECRET)
    try:
        trade_ws.place_order(lambda m: replies.messages.append(m), category="linear", symbol="BTCUSDT", side="Buy",
                             orderType="Market", qty="0.001", orderLinkId="via-ws")  # fmt: skip
        wait_until(lambda: replies.messages, timeout=5)
        reply = replies.messages[0]
        assert reply["retCode"] == 0
        assert reply["op"] == "order.create"
        assert reply["data"]["orderLinkId"] == "via-ws"
        row = sim.http().get_open_orders(category="linear", orderLinkId="via-ws")["result"]["list"][0]
        assert row["orderStatus"] == "Filled"
    finally:
        trade_ws.exit()
