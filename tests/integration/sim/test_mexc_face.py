"""The MEXC spot v3 face: unmodified ccxt trades against it (only its base URLs point here).

One simulator process for the session (conftest); `sim` resets the venue, the spot account
and the MEXC face's faults before each test."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import ccxt
import httpx
import pytest

from tests.integration.sim.conftest import MEXC_API_KEY, MEXC_API_SECRET, Sim, wait_until
from titan_common.embedded import free_port

SYMBOL = "BTC/USDT"


def signed(sim: Sim, method: str, path: str, params: dict[str, str], secret: str = MEXC_API_SECRET) -> httpx.Response:
    """A request signed as MEXC's docs say: HMAC-SHA256 over the query string as sent."""
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000)), "recvWindow": "5000"})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    url = f"{sim.mexc_url}{path}?{query}&signature={signature}"
    return httpx.request(method, url, headers={"X-MEXC-APIKEY": MEXC_API_KEY}, timeout=5)


def mexc_orders(sim: Sim, client_order_id: str) -> list[dict[str, object]]:
    body = sim.control.get("/sim/orders", params={"venue": "mexc", "clientOrderId": client_order_id}).json()
    return list(body["list"])


def below_bid(exchange: ccxt.mexc, pct: str = "0.9") -> float:
    bid = exchange.fetch_ticker(SYMBOL)["bid"]
    return float(exchange.price_to_precision(SYMBOL, bid * float(pct)))


def test_markets_ticker_book_and_ohlcv(sim: Sim) -> None:
    exchange = sim.mexc()
    markets = exchange.load_markets()
    spot = markets[SYMBOL]
    assert spot["spot"]
    assert spot["active"]
    assert spot["limits"]["amount"]["min"] == 0.000001  # spot steps: the contract's / 1000
    assert spot["precision"]["price"] == 0.1
    assert markets["BTC/USDT:USDT"]["swap"]
    assert markets["BTC/USDT:USDT"]["info"]["apiAllowed"] is False
    ticker = exchange.fetch_ticker(SYMBOL)
    assert 0 < ticker["bid"] < ticker["ask"]
    assert ticker["last"] > 0
    book = exchange.fetch_order_book(SYMBOL, 10)
    assert len(book["bids"]) == 10
    assert book["bids"][0][0] < book["asks"][0][0]
    candles = exchange.fetch_ohlcv(SYMBOL, "1m", limit=5)
    assert len(candles) == 5
    assert [c[0] for c in candles] == sorted(c[0] for c in candles)
    hourly = exchange.fetch_ohlcv(SYMBOL, "1h", since=candles[0][0] - 5 * 3_600_000, limit=3)
    assert len(hourly) == 3
    assert hourly[1][0] - hourly[0][0] == 3_600_000
    assert exchange.fetch_time() > 0


def test_contract_detail_lists_contracts_not_api_tradable(sim: Sim) -> None:
    body = httpx.get(f"{sim.mexc_url}/api/v1/contract/detail", timeout=5).json()
    assert body["success"] is True
    assert body["code"] == 0
    assert {c["symbol"] for c in body["data"]} >= {"BTC_USDT", "ETH_USDT"}
    assert all(c["apiAllowed"] is False for c in body["data"])


def test_limit_order_lifecycle_by_client_id(sim: Sim) -> None:
    exchange = sim.mexc()
    assert exchange.fetch_balance()["USDT"]["free"] == 10000
    price = below_bid(exchange)
    placed = exchange.create_order(SYMBOL, "limit", "buy", 0.01, price, {"clientOrderId": "life-1"})
    fetched = exchange.fetch_order(None, SYMBOL, {"clientOrderId": "life-1"})  # sent as origClientOrderId
    assert fetched["id"] == placed["id"]
    assert fetched["clientOrderId"] == "life-1"
    assert fetched["status"] == "open"
    assert fetched["amount"] == 0.01
    assert fetched["price"] == price
    balance = exchange.fetch_balance()["USDT"]
    assert Decimal(str(balance["used"])) == Decimal(str(price)) * Decimal("0.01")
    assert [o["id"] for o in exchange.fetch_open_orders(SYMBOL)] == [placed["id"]]
    cancelled = exchange.cancel_order(None, SYMBOL, {"clientOrderId": "life-1"})
    assert cancelled["status"] == "canceled"
    assert exchange.fetch_order(placed["id"], SYMBOL)["status"] == "canceled"
    assert exchange.fetch_balance()["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}
    with pytest.raises(ccxt.BadRequest, match="-2011"):
        exchange.cancel_order(placed["id"], SYMBOL)


def test_duplicate_client_order_id_is_refused(sim: Sim) -> None:
    exchange = sim.mexc()
    price = below_bid(exchange)
    exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.BadRequest, match="30026"):
        exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"clientOrderId": "dup-1"})
    response = signed(sim, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "quantity": "0.001", "price": str(price),
                                                     "newClientOrderId": "dup-1"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == 30026
    received = mexc_orders(sim, "dup-1")
    assert [r["code"] for r in received] == [0, 30026, 30026]
    assert len(exchange.fetch_open_orders(SYMBOL)) == 1


def test_market_buy_fills_lists_its_trade_and_moves_the_balance(sim: Sim) -> None:
    exchange = sim.mexc()
    placed = exchange.create_order(SYMBOL, "market", "buy", 0.002, None, {"clientOrderId": "mkt-1"})
    order = exchange.fetch_order(placed["id"], SYMBOL)
    assert order["status"] == "closed"
    assert order["filled"] == 0.002
    trades = exchange.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [placed["id"]]
    trade = trades[0]
    assert trade["side"] == "buy"
    assert trade["takerOrMaker"] == "taker"
    assert trade["fee"]["currency"] == "BTC"
    cost = Decimal(str(order["cost"]))
    fee = Decimal(str(trade["fee"]["cost"]))
    assert fee == Decimal("0.002") * Decimal("0.0005")
    total = exchange.fetch_balance()["total"]
    assert Decimal(str(total["USDT"])) == Decimal(10000) - cost
    assert Decimal(str(total["BTC"])) == Decimal("0.002") - fee
    spent = exchange.create_market_buy_order_with_cost(SYMBOL, 100)
    assert exchange.fetch_order(spent["id"], SYMBOL)["cost"] <= 100


def test_resting_limit_fills_when_the_market_crosses_it(sim: Sim) -> None:
    """A /sim burst moves the one market both faces trade on."""
    exchange = sim.mexc()
    price = below_bid(exchange, "0.99")
    placed = exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"clientOrderId": "rest-1"})
    sim.post("/sim/market/BTCUSDT/burst", {"pct": -3, "trades": 50, "window_ms": 0})
    order = wait_until(lambda: (o := exchange.fetch_order(placed["id"], SYMBOL))["status"] == "closed" and o, 5)
    assert order["filled"] == 0.001
    assert order["cost"] == pytest.approx(price * 0.001)
    trade = exchange.fetch_my_trades(SYMBOL)[-1]
    assert trade["takerOrMaker"] == "maker"
    assert trade["fee"]["cost"] == 0


def test_coins_held_before_titan_can_be_sold(sim: Sim) -> None:
    sim.post("/sim/mexc/balance", {"asset": "BTC", "free": "0.5"})
    exchange = sim.mexc()
    assert exchange.fetch_balance()["BTC"]["free"] == 0.5
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "market", "sell", 0.6)
    exchange.create_order(SYMBOL, "market", "sell", 0.1)
    assert exchange.fetch_balance()["BTC"]["free"] == pytest.approx(0.4)


def test_wrong_secret_and_wrong_key_are_refused(sim: Sim) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="700002"):
        sim.mexc(secret="not-the-secret").fetch_balance()
    with pytest.raises(ccxt.BadRequest, match="10072"):
        sim.mexc(apiKey="not-the-key").fetch_balance()
    response = signed(sim, "GET", "/api/v3/account", {}, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["code"] == 700002


def test_rate_limit_answers_429_with_retry_after(sim: Sim) -> None:
    sim.post("/sim/faults?venue=mexc", {"rate_limit_per_s": 1})
    answers = [httpx.get(f"{sim.mexc_url}/api/v3/ping", timeout=5) for _ in range(3)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited
    assert int(limited[0].headers["Retry-After"]) == 1
    exchange = sim.mexc(enableRateLimit=False)

    def three_books() -> None:  # one second window boundary at most: one is refused
        for _ in range(3):
            exchange.fetch_order_book(SYMBOL)

    with pytest.raises((ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        three_books()
    # the Bybit face keeps its own limits
    assert sim.http().get_tickers(category="linear", symbol="BTCUSDT")["retCode"] == 0


def test_order_endpoints_share_twelve_per_second(sim: Sim) -> None:
    codes = [signed(sim, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "x"}).status_code
             for _ in range(30)]  # fmt: skip
    assert 429 in codes
    assert codes.count(400) >= 12


def test_mexc_faults_do_not_touch_the_bybit_face(sim: Sim) -> None:
    sim.post("/sim/faults", {"venue": "mexc", "error_rate": 1.0, "http_status": 503})
    with pytest.raises(ccxt.ExchangeNotAvailable):
        sim.mexc().fetch_ticker(SYMBOL)
    assert sim.control.get("/sim/faults").json()["error_rate"] == 0
    assert sim.control.get("/sim/faults", params={"venue": "mexc"}).json()["error_rate"] == 1.0
    assert sim.http().get_tickers(category="linear", symbol="BTCUSDT")["retCode"] == 0
    sim.post("/sim/faults?venue=mexc", {"error_rate": 0, "http_status": None, "clock_skew_ms": 60_000})
    with pytest.raises(ccxt.InvalidNonce, match="700003"):
        sim.mexc().fetch_balance()
    assert sim.http().get_wallet_balance(accountType="UNIFIED")["retCode"] == 0


def test_drop_response_executes_once_and_never_answers(sim: Sim) -> None:
    exchange = sim.mexc(timeout=1500)
    exchange.load_markets()
    price = below_bid(exchange)
    sim.post("/sim/faults?venue=mexc", {"drop_response": True})
    with pytest.raises(ccxt.RequestTimeout):
        exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"clientOrderId": "drop-1"})
    sim.control.delete("/sim/faults", params={"venue": "mexc"})
    assert len(mexc_orders(sim, "drop-1")) == 1
    assert exchange.fetch_order(None, SYMBOL, {"clientOrderId": "drop-1"})["status"] == "open"
    assert sim.control.get("/sim/health").json()["faces"]["mexc"]["heldResponses"] >= 1


def test_the_face_stops_and_serves_again(sim: Sim) -> None:
    exchange = sim.mexc(timeout=2000)
    exchange.load_markets()
    assert sim.post("/sim/faces/mexc", {"serving": False})["serving"] is False
    face = sim.control.get("/sim/health").json()["faces"]["mexc"]
    assert (face["port"], face["serving"]) == (sim.mexc_port, False)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.mexc_url}/api/v3/ping", timeout=2)
    with pytest.raises(ccxt.NetworkError):
        exchange.fetch_ticker(SYMBOL)
    assert sim.http().get_tickers(category="linear", symbol="BTCUSDT")["retCode"] == 0  # Bybit still up
    assert sim.post("/sim/faces/mexc", {"serving": True})["serving"] is True
    assert exchange.fetch_ticker(SYMBOL)["last"] > 0


def test_a_taken_mexc_port_stops_the_simulator(sim: Sim, tmp_path: Path) -> None:
    """The face's port is taken (by the running simulator): a second one exits non-zero."""
    env = {
        **os.environ,
        "TITAN_SIMULATOR_PORT": str(free_port()),
        "TITAN_SIM_MEXC_PORT": str(sim.mexc_port),
        "TITAN_VAR_DIR": str(tmp_path),
        "TITAN_SIM_SYMBOLS": "BTCUSDT",
        "TITAN_SIM_BACKFILL_MINUTES": "10",
    }
    result = subprocess.run(
        [sys.executable, "-m", "titan_sim"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "MEXC face cannot take port" in result.stdout + result.stderr
