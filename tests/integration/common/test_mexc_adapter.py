"""The MEXC adapter, unmodified, against the simulator's MEXC face: a real simulator process,
real HTTP through ccxt, the face's faults steered through /sim (with `venue=mexc`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_UP
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.processes import start_service, terminate, wait_for_health
from titan_common.clock import now_ms
from titan_common.embedded import free_port
from titan_common.exchanges import OrderRejected, OrderStatus, OutcomeUnknown, PlaceOrder, RateLimited
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.exchanges.mexc import MexcAdapter, MexcConfig, TradingNotAllowed
from titan_common.exchanges.types import InstrumentFilters
from titan_common.messages import OrderType, Side

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"


@dataclass(frozen=True)
class MexcSim:
    control_url: str  # the simulator's own port: /sim/... and /health
    mexc_url: str  # the MEXC face
    api_key: str
    api_secret: str
    bybit_key: str
    bybit_secret: str

    def control(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> dict[str, Any]:
        response = httpx.request(method, f"{self.control_url}/sim{path}", json=body, params=params, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def faults(self, **faults: Any) -> None:
        self.control("POST", "/faults", faults, venue="mexc")

    def orders_received(self, client_order_id: str) -> int:
        """How many POST /api/v3/order with this newClientOrderId the face received."""
        return int(self.control("GET", "/orders", venue="mexc", clientOrderId=client_order_id)["count"])


def _wait_for_face(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v3/ping", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the MEXC face at {url} never answered")


@pytest.fixture(scope="module")
def mexc_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MexcSim]:
    var_dir: Path = tmp_path_factory.mktemp("mexc-sim")
    port, mexc_port = free_port(), free_port()
    key, secret = f"M{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    bybit_key, bybit_secret = f"B{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    process = start_service(
        "simulator",
        {
            "TITAN_SIMULATOR_PORT": str(port),
            "TITAN_SIM_MEXC_PORT": str(mexc_port),
            "TITAN_VAR_DIR": str(var_dir),
            "TITAN_SIM_API_KEY": bybit_key,
            "TITAN_SIM_API_SECRET": bybit_secret,
            "TITAN_SIM_MEXC_API_KEY": key,
            "TITAN_SIM_MEXC_API_SECRET": secret,
            "TITAN_SIM_DROP_HOLD_S": "1.0",
            "TITAN_SIM_BACKFILL_MINUTES": "60",
        },
        var_dir / "simulator.out",
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", timeout=60)
        _wait_for_face(f"http://127.0.0.1:{mexc_port}")
        yield MexcSim(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mexc_port}", key, secret, bybit_key, bybit_secret)
    finally:
        terminate(process)


@pytest.fixture
async def adapter(mexc_sim: MexcSim) -> AsyncIterator[MexcAdapter]:
    mexc_sim.control("POST", "/reset")
    mexc = MexcAdapter(MexcConfig(mexc_sim.mexc_url, mexc_sim.api_key, mexc_sim.api_secret, timeout_s=5))
    yield mexc
    await mexc.close()
    mexc_sim.control("DELETE", "/faults", venue="mexc")


def cid() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def small_qty(filters: InstrumentFilters, price: D, times: int = 2) -> D:
    """`times` the smallest order the venue takes at `price`: its minimum quantity, and its
    minimum notional (MEXC: 1 USDT), on its step."""
    least = max(filters.min_qty, filters.min_notional / price)
    return (least / filters.qty_step).to_integral_value(rounding=ROUND_UP) * filters.qty_step * times


async def far_limit_buy(adapter: MexcAdapter, client_order_id: str) -> PlaceOrder:
    """A limit buy 10% under the market: it rests."""
    filters = {f.symbol: f for f in await adapter.instruments()}[SYMBOL]
    price = (await adapter.last_price(SYMBOL) * D("0.9")).quantize(filters.tick_size)
    return PlaceOrder(SYMBOL, Side.BUY, small_qty(filters, price), client_order_id, OrderType.LIMIT, price=price)


async def test_instruments_time_and_balances(adapter: MexcAdapter, mexc_sim: MexcSim) -> None:
    instruments = {f.symbol: f for f in await adapter.instruments()}
    btc = instruments[SYMBOL]
    assert btc.trading
    assert btc.tick_size > 0
    assert btc.qty_step > 0
    assert btc.min_qty > 0
    assert btc.min_notional > 0
    assert (btc.min_leverage, btc.max_leverage) == (1, 1)
    assert abs(await adapter.server_time_ms() - now_ms()) < 5_000
    mexc_sim.control("POST", "/mexc/balance", {"asset": "BTC", "free": "0.5"})
    balances = await adapter.balances()
    assert balances["BTC"] == D("0.5")
    assert balances["USDT"] > 0
    wallet = await adapter.wallet()
    assert wallet.equity == balances["USDT"]  # USDT only
    assert await adapter.positions() == []
    (ticker,) = await adapter.tickers(SYMBOL)
    assert ticker.last_price > 0
    assert len(await adapter.klines(SYMBOL, "15", limit=5)) == 5


async def test_ccxts_own_load_markets_reads_only_the_face(adapter: MexcAdapter) -> None:
    """Unified ccxt calls stay possible: load_markets reads the face's spot and contract lists
    (never api.mexc.com) and skips the private coin list."""
    markets = await adapter.http.client.load_markets()
    assert markets["BTC/USDT"]["id"] == SYMBOL
    assert markets["BTC/USDT"]["spot"] is True
    assert any(m["swap"] for m in markets.values())


async def test_a_limit_order_found_by_its_client_id_then_cancelled(adapter: MexcAdapter, mexc_sim: MexcSim) -> None:
    client_id = cid()
    order = await far_limit_buy(adapter, client_id)
    ack = await adapter.place_order(order)
    assert ack.client_order_id == client_id
    found = await adapter.order_by_client_id(SYMBOL, client_id)
    assert found is not None
    assert (found.order_id, found.client_order_id, found.status) == (ack.order_id, client_id, OrderStatus.NEW)
    assert (found.qty, found.price, found.leaves_qty) == (order.qty, order.price, order.qty)
    assert [o.client_order_id for o in await adapter.open_orders()] == [client_id]
    await adapter.cancel_order(SYMBOL, client_order_id=client_id)
    cancelled = await adapter.order_by_client_id(SYMBOL, client_id)
    assert cancelled is not None
    assert cancelled.status is OrderStatus.CANCELLED
    assert await adapter.open_orders(SYMBOL) == []
    assert await adapter.order_by_client_id(SYMBOL, cid()) is None  # the venue knows no such order
    # cancel_all covers every symbol with open orders
    await adapter.place_order(await far_limit_buy(adapter, cid()))
    await adapter.place_order(await far_limit_buy(adapter, cid()))
    assert await adapter.cancel_all() == 2
    assert await adapter.open_orders() == []
    assert mexc_sim.orders_received(client_id) == 1


async def test_a_market_buy_fills_and_is_listed_by_executions_since(adapter: MexcAdapter) -> None:
    since = now_ms() - 1
    filters = {f.symbol: f for f in await adapter.instruments()}[SYMBOL]
    client_id = cid()
    qty = small_qty(filters, await adapter.last_price(SYMBOL), times=3)
    await adapter.place_order(PlaceOrder(SYMBOL, Side.BUY, qty, client_id))
    order = await adapter.order_by_client_id(SYMBOL, client_id)
    assert order is not None
    assert (order.status, order.cum_exec_qty) == (OrderStatus.FILLED, qty)  # bought by base quantity
    fills = [e for e in await adapter.executions_since(since) if e.client_order_id == client_id]
    assert fills
    assert sum(e.qty for e in fills) == qty
    assert all(e.side is Side.BUY and e.symbol == SYMBOL and e.price > 0 and e.fee >= 0 for e in fills)
    held = (await adapter.balances()).get("BTC", D(0))
    charged_in_btc = sum(e.fee_qty or D(0) for e in fills if e.fee_asset == "BTC")
    assert held == qty - charged_in_btc  # the spot account holds what was bought, less a fee in BTC


async def test_a_lost_answer_is_an_unknown_outcome_and_the_order_is_found_once(
    adapter: MexcAdapter, mexc_sim: MexcSim
) -> None:
    client_id = cid()
    order = await far_limit_buy(adapter, client_id)
    mexc_sim.faults(drop_response=True)
    with pytest.raises(OutcomeUnknown):
        await adapter.place_order(order)
    mexc_sim.faults(drop_response=False)
    found = await adapter.order_by_client_id(SYMBOL, client_id)
    assert found is not None
    assert found.status is OrderStatus.NEW
    assert len([o for o in await adapter.open_orders(SYMBOL) if o.client_order_id == client_id]) == 1
    assert mexc_sim.orders_received(client_id) == 1


async def test_a_429_storm_gives_rate_limited_with_a_reset_and_never_a_duplicate(
    adapter: MexcAdapter, mexc_sim: MexcSim
) -> None:
    orders = [await far_limit_buy(adapter, cid()) for _ in range(8)]
    mexc_sim.faults(rate_limit_per_s=2)
    before = now_ms()
    results = await asyncio.gather(*(adapter.place_order(o) for o in orders), return_exceptions=True)
    refused = [r for r in results if isinstance(r, RateLimited)]
    placed = [r for r in results if not isinstance(r, BaseException)]
    assert len(refused) + len(placed) == len(orders), results
    assert refused
    assert len(placed) <= 2
    assert all(r.reset_ms is not None and r.reset_ms > before for r in refused)
    assert adapter.rate_limit_hits >= 1
    assert adapter.last_rate_limited_ms >= before
    for order, result in zip(orders, results, strict=True):
        received = mexc_sim.orders_received(order.client_order_id)
        assert received == (0 if isinstance(result, RateLimited) else 1)  # each sent at most once
    # while the endpoint is blocked nothing is sent at all
    blocked = await far_limit_buy(adapter, cid())
    with pytest.raises(RateLimited):
        await adapter.place_order(blocked)
    assert mexc_sim.orders_received(blocked.client_order_id) == 0


async def test_stops_are_refused(adapter: MexcAdapter, mexc_sim: MexcSim) -> None:
    with pytest.raises(OrderRejected, match="MEXC spot has no stop orders through the API"):
        await adapter.set_trading_stop(SYMBOL, stop_loss=D("1"))
    client_id = cid()
    order = await far_limit_buy(adapter, client_id)
    with pytest.raises(OrderRejected, match="MEXC spot has no stop orders through the API"):
        await adapter.place_order(replace(order, stop_loss=order.price * D("0.9") if order.price else None))
    assert mexc_sim.orders_received(client_id) == 0  # never sent without its stop


async def test_swap_reads_api_allowed_and_refuses_to_trade(mexc_sim: MexcSim) -> None:
    mexc_sim.control("POST", "/reset")
    swap = MexcAdapter(MexcConfig(mexc_sim.mexc_url, mexc_sim.api_key, mexc_sim.api_secret, market="swap"))
    try:
        contracts = await swap.contracts()
        assert contracts
        assert not any(c.api_allowed for c in contracts)
        assert not any(f.trading for f in await swap.instruments())
        with pytest.raises(TradingNotAllowed, match="apiAllowed=false"):
            await swap.check_trading_allowed()
        client_id = cid()
        with pytest.raises(TradingNotAllowed):
            await swap.place_order(PlaceOrder(SYMBOL, Side.BUY, D("1"), client_id))
        assert mexc_sim.orders_received(client_id) == 0
    finally:
        await swap.close()


async def test_the_public_feed_is_rest_polled(adapter: MexcAdapter) -> None:
    kinds: set[str] = set()
    started = time.monotonic()
    async for event in adapter.public_events([SYMBOL], ["trade", "ticker", "kline.1"]):
        assert event.symbol == SYMBOL
        kinds.add(event.kind)
        if kinds == {"trade", "ticker", "kline"} or time.monotonic() - started > 20:
            break
    assert kinds == {"trade", "ticker", "kline"}
    assert adapter.last_public_ms > 0
    assert adapter.private_stream_connected() is None


async def test_every_adapter_has_balances_bybit_too(mexc_sim: MexcSim) -> None:
    bybit = BybitAdapter(BybitConfig(mexc_sim.control_url, mexc_sim.bybit_key, mexc_sim.bybit_secret, timeout_s=5))
    try:
        balances = await bybit.balances()
        assert balances["USDT"] > 0
        assert balances["USDT"] == (await bybit.wallet()).wallet_balance
    finally:
        await bybit.close()


# --- rate limits through ccxt, against a tiny local HTTP server (no simulator) -------------------------------------


async def test_a_429_blocks_the_endpoint_until_retry_after_and_nothing_is_resent() -> None:
    hits: dict[str, int] = {"order": 0, "time": 0}

    async def order(_request: web.Request) -> web.Response:
        hits["order"] += 1
        return web.json_response({"msg": "Too Many Requests"}, status=429, headers={"Retry-After": "2"})

    async def server_time(_request: web.Request) -> web.Response:
        hits["time"] += 1
        return web.json_response({"serverTime": 1234})

    app = web.Application()
    app.router.add_post("/api/v3/order", order)
    app.router.add_get("/api/v3/time", server_time)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    mexc = MexcAdapter(MexcConfig(f"http://127.0.0.1:{port}", "k", "s", timeout_s=5))
    try:
        before = now_ms()
        with pytest.raises(RateLimited) as refused:
            await mexc.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-6"))
        assert refused.value.reset_ms is not None
        assert before + 2000 <= refused.value.reset_ms <= now_ms() + 2000
        assert (mexc.rate_limit_hits, hits["order"]) == (1, 1)
        assert mexc.last_rate_limited_ms >= before
        # the endpoint stays blocked: refused at once, not sent
        with pytest.raises(RateLimited, match="not sent") as again:
            await mexc.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-7"))
        assert again.value.reset_ms == refused.value.reset_ms
        assert hits["order"] == 1
        # other endpoints go on
        assert await mexc.server_time_ms() == 1234
        await asyncio.sleep(0)
    finally:
        await mexc.close()
        await runner.cleanup()


async def test_a_dead_endpoint_is_an_unknown_outcome() -> None:
    mexc = MexcAdapter(MexcConfig(f"http://127.0.0.1:{free_port()}", "k", "s", timeout_s=2))
    try:
        with pytest.raises(OutcomeUnknown):
            await mexc.place_order(PlaceOrder("BTCUSDT", Side.BUY, D("1"), "t-8"))
    finally:
        await mexc.close()
