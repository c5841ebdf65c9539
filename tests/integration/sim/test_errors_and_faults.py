"""Every retCode and every /sim/faults switch, seen through unmodified pybit."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest
import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError

from tests.integration.sim.conftest import Sim, wait_until

pytestmark = pytest.mark.integration


def _code(call: object) -> int:
    with pytest.raises(InvalidRequestError) as err:
        call()  # type: ignore[operator]
    return int(err.value.status_code)


def _market(session: object, **kw: str) -> dict[str, str]:
    params = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.001", **kw}
    result: dict[str, str] = session.place_order(**params)["result"]  # type: ignore[attr-defined]
    return result


def test_business_error_codes(sim: Sim) -> None:
    session = sim.http()
    assert _code(lambda: _market(session, side="Up")) == 10001
    assert _code(lambda: _market(session, qty="abc")) == 10001
    assert _code(lambda: _market(session, orderLinkId="bad id with spaces")) == 10001
    assert _code(lambda: session.cancel_order(category="linear", symbol="BTCUSDT", orderId="nope")) == 110001
    assert _code(lambda: _market(session, qty="500")) == 110007
    done = _market(session, orderLinkId="finished-1")
    assert _code(lambda: session.cancel_order(category="linear", symbol="BTCUSDT", orderId=done["orderId"])) == 110008
    assert _code(lambda: session.amend_order(category="linear", symbol="BTCUSDT", orderLinkId="finished-1",
                                             qty="0.002")) == 110008  # fmt: skip
    assert _code(lambda: _market(session, qty="0.0004")) == 110017
    assert _code(lambda: _market(session, side="Buy", qty="0.01", reduceOnly=True)) == 110017  # nothing to reduce
    assert _code(lambda: session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                                             qty="0.001", price="1000")) == 110094  # fmt: skip
    session.set_leverage(category="linear", symbol="ETHUSDT", buyLeverage="20", sellLeverage="20")
    assert _code(lambda: session.set_leverage(category="linear", symbol="ETHUSDT", buyLeverage="20",
                                              sellLeverage="20")) == 110043  # fmt: skip
    session.set_trading_stop(category="linear", symbol="BTCUSDT", positionIdx=0, stopLoss="1")
    assert _code(lambda: session.set_trading_stop(category="linear", symbol="BTCUSDT", positionIdx=0,
                                                  stopLoss="1")) == 34040  # fmt: skip


def test_duplicate_order_link_id_and_sim_orders_counts_it(sim: Sim) -> None:
    session = sim.http()
    _market(session, orderLinkId="dup-1")
    assert _code(lambda: _market(session, orderLinkId="dup-1")) == 110072
    received = sim.control.get("/sim/orders", params={"orderLinkId": "dup-1"}).json()
    assert received["count"] == 2
    assert [r["retCode"] for r in received["list"]] == [0, 110072]
    assert received["list"][0]["orderStatus"] == "Filled"


def test_bad_key_and_bad_signature(sim: Sim) -> None:
    assert _code(lambda: sim.http(api_key="someone-else").get_positions(category="linear", symbol="BTCUSDT")) == 10003
    assert _code(lambda: sim.http(api_secret="wrong").get_positions(category="linear", symbol="BTCUSDT")) == 10004
    assert _code(lambda: _market(sim.http(api_secret="wrong"))) == 10004


def test_signature_covers_percent_encoded_query(sim: Sim) -> None:
    # requests percent-encodes the space; the venue verifies against the decoded query
    rows = sim.http().get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="a b")["result"]["list"]
    assert rows == []


def test_skewed_clock_gives_10002_and_pybit_widens_recv_window(sim: Sim) -> None:
    sim.faults(clock_skew_ms=6_000)  # server ahead by 6 s: outside 5000, inside 7500
    before = sim.control.get("/sim/health").json()["requests"]
    rows = sim.http(retry_delay=0).get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert rows[0]["symbol"] == "BTCUSDT"
    assert sim.control.get("/sim/health").json()["requests"] - before == 2  # a 10002, then success
    sim.faults(clock_skew_ms=60_000)
    with pytest.raises(FailedRequestError) as err:  # 3 attempts of 10002, then pybit gives up
        sim.http(retry_delay=0).get_positions(category="linear", symbol="BTCUSDT")
    assert "retries exceeded" in str(err.value).lower()
    server = int(sim.http().get_server_time()["result"]["timeSecond"])
    assert server - time.time() > 50


def test_rate_limit_10006_is_retried_by_pybit(sim: Sim) -> None:
    raw = httpx.get(f"{sim.url}/v5/market/time")
    assert {"x-bapi-limit", "x-bapi-limit-status", "x-bapi-limit-reset-timestamp"} <= set(raw.headers)
    trade = sim.http().place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.001")
    assert trade["retCode"] == 0
    sim.faults(rate_limit_per_s=2)
    # limits use fixed one-second windows; calls can straddle a boundary, so go until refused
    for _ in range(20):
        raw = httpx.get(f"{sim.url}/v5/market/time")
        if raw.json()["retCode"] != 0:
            break
    body = raw.json()
    assert body["retCode"] == 10006
    assert int(raw.headers["x-bapi-limit-reset-timestamp"]) > time.time() * 1000
    assert raw.headers["x-bapi-limit"] == "2"
    assert raw.headers["x-bapi-limit-status"] == "0"
    session = sim.http()
    started = time.monotonic()
    for _ in range(5):
        assert session.get_positions(category="linear", symbol="BTCUSDT")["retCode"] == 0
    assert time.monotonic() - started > 0.5  # pybit slept until the reset at least once


def test_default_trade_limit_is_ten_per_second(sim: Sim) -> None:
    session = sim.http(return_response_headers=True)
    _body, _elapsed, headers = session.get_open_orders(category="linear", symbol="BTCUSDT")
    assert headers["X-Bapi-Limit"] == "50"
    _body, _elapsed, headers = session.place_order(category="linear", symbol="BTCUSDT", side="Buy",
                                                   orderType="Market", qty="0.001")  # fmt: skip
    assert headers["X-Bapi-Limit"] == "10"
    assert int(headers["X-Bapi-Limit-Status"]) <= 9


def test_error_rate_with_ret_code_and_with_http_status(sim: Sim) -> None:
    session = sim.http()
    sim.faults(error_rate=1.0, ret_code=10016)
    assert _code(lambda: session.get_positions(category="linear", symbol="BTCUSDT")) == 10016
    sim.faults(ret_code=None, http_status=503)
    with pytest.raises(FailedRequestError) as err:
        session.get_positions(category="linear", symbol="BTCUSDT")
    assert err.value.status_code == 503
    sim.faults(error_rate=0.0)
    assert session.get_positions(category="linear", symbol="BTCUSDT")["retCode"] == 0


def test_latency_and_jitter(sim: Sim) -> None:
    session = sim.http()
    sim.faults(latency_ms=300, jitter_ms=50)
    started = time.monotonic()
    session.get_server_time()
    assert 0.24 <= time.monotonic() - started < 2.0
    sim.clear_faults()
    started = time.monotonic()
    session.get_server_time()
    assert time.monotonic() - started < 0.2


def test_drop_response_accepts_the_order_but_never_answers(sim: Sim) -> None:
    sim.faults(drop_response=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sim.http(timeout=1).place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                                        qty="0.001", orderLinkId="lost-1")  # fmt: skip
    sim.clear_faults()
    # SENT_UNKNOWN resolved the right way: ask by orderLinkId, the order exists and filled
    rows = sim.http().get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="lost-1")["result"]["list"]
    assert rows[0]["orderStatus"] == "Filled"
    assert sim.control.get("/sim/orders", params={"orderLinkId": "lost-1"}).json()["count"] == 1


def test_reject_symbol_and_closed_market(sim: Sim) -> None:
    session = sim.http()
    sim.faults(reject_symbol="ETHUSDT")
    assert _code(lambda: session.place_order(category="linear", symbol="ETHUSDT", side="Buy", orderType="Market",
                                             qty="0.01")) == 10001  # fmt: skip
    assert _market(session)["orderId"]  # other symbols still trade
    sim.clear_faults()
    sim.post("/sim/market/SOLUSDT/status", {"status": "Closed"})
    info = session.get_instruments_info(category="linear", symbol="SOLUSDT")["result"]["list"][0]
    assert info["status"] == "Closed"
    assert _code(lambda: session.place_order(category="linear", symbol="SOLUSDT", side="Buy", orderType="Market",
                                             qty="1")) == 10001  # fmt: skip
    sim.post("/sim/market/SOLUSDT/status", {"status": "Trading"})
    assert (
        session.place_order(category="linear", symbol="SOLUSDT", side="Buy", orderType="Market", qty="1")["retCode"]
        == 0
    )


def test_ws_disconnect_drops_sockets_and_pybit_reconnects(sim: Sim) -> None:
    ws = sim.ws_public()
    trades: list[dict[str, object]] = []
    try:
        ws.trade_stream("BTCUSDT", trades.append)
        wait_until(lambda: trades, timeout=10)
        result = sim.faults(ws_disconnect=True)
        assert result["ws_disconnected"] >= 1
        wait_until(lambda: sim.control.get("/sim/health").json()["connections"]["public"] >= 1, timeout=15)
        count = len(trades)
        wait_until(lambda: len(trades) > count, timeout=10)  # resubscribed after reconnect
        assert ws.is_connected()
    finally:
        ws.exit()


def test_manual_position_appears_without_an_api_order(sim: Sim) -> None:
    result = sim.post("/sim/positions", {"symbol": "DOGEUSDT", "side": "Sell", "size": "1000"})
    assert result["orderStatus"] == "Filled"
    pos = sim.http().get_positions(category="linear", symbol="DOGEUSDT")["result"]["list"][0]
    assert pos["side"] == "Sell"
    assert Decimal(pos["size"]) == 1000


def test_fail_paths_break_one_endpoint_only(sim: Sim) -> None:
    session = sim.http()
    session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.001")
    sim.faults(fail_paths=["/v5/position/trading-stop"])
    assert _code(lambda: session.set_trading_stop(category="linear", symbol="BTCUSDT", stopLoss="1000")) == 10016
    assert session.get_positions(category="linear", symbol="BTCUSDT")["retCode"] == 0  # the rest still works
    sim.faults(fail_paths=[])
    assert session.set_trading_stop(category="linear", symbol="BTCUSDT", stopLoss="1000")["retCode"] == 0
