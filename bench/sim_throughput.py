"""Simulator throughput: orders/s through unmodified pybit, trades/s pushed over WebSocket.

Starts `python -m titan_sim` on a free port (rate limits lifted: we measure the venue, not
Bybit's limits), then:
- orders: several client processes, each a pybit HTTP session placing market orders;
- trades: momentum bursts on the control API while a WebSocket client counts the
  publicTrade items it receives. The headline figure uses the `websockets` client; the
  figure for pybit is reported too and is lower because websocket-client (pybit's
  transport) validates every text frame's UTF-8 in pure Python (~30 us per trade item).
Prints one JSON object and appends a dated row to docs/benchmarks.md.

Usage: python bench/sim_throughput.py [--seconds 5] [--clients 3]
Goals: >= 500 orders/s, >= 50,000 trades/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _report
import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "bench-key", "bench-secret"
ORDER_GOAL, TRADE_GOAL = 500, 50_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TITAN_SIMULATOR_PORT": str(port),
        "TITAN_SIM_MEXC_PORT": str(free_port()),  # the MEXC face's port: never the shared 9101
        "TITAN_SIM_API_KEY": KEY,
        "TITAN_SIM_API_SECRET": SECRET,
        "TITAN_SIM_SYMBOLS": "BTCUSDT,ETHUSDT",
        "TITAN_SIM_BALANCE": "100000000",
        "TITAN_SIM_BACKFILL_MINUTES": "1440",
        "TITAN_SIM_TRADE_RATE_LIMIT": "10000000",
        "TITAN_SIM_QUERY_RATE_LIMIT": "10000000",
        "TITAN_SIM_PUBLIC_RATE_LIMIT": "10000000",
        "TITAN_LOG_LEVEL": "WARNING",
        "TITAN_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "titan_sim"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sim/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("simulator did not start")


def order_client(port: int, seconds: float, start_at: float, results: Any) -> None:
    from pybit.unified_trading import HTTP

    session = HTTP(testnet=False, api_key=KEY, api_secret=SECRET)
    session.endpoint = f"http://127.0.0.1:{port}"
    while time.time() < start_at:
        time.sleep(0.001)
    done = errors = 0
    end = start_at + seconds
    side = "Buy"
    while time.time() < end:
        try:
            session.place_order(category="linear", symbol="BTCUSDT", side=side, orderType="Market", qty="0.001")
            done += 1
        except Exception:
            errors += 1
        side = "Sell" if side == "Buy" else "Buy"
    results.put((done, errors))


def bench_orders(port: int, seconds: float, clients: int) -> dict[str, Any]:
    results: mp.Queue[tuple[int, int]] = mp.Queue()
    start_at = time.time() + 1.5  # every client's imports done before the clock starts
    workers = [mp.Process(target=order_client, args=(port, seconds, start_at, results)) for _ in range(clients)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    done = sum(d for d, _e in outcomes)
    return {
        "orders": done,
        "errors": sum(e for _d, e in outcomes),
        "clients": clients,
        "seconds": seconds,
        "orders_per_s": round(done / seconds, 1),
    }


def fast_trade_counter(port: int, ready: Any, results: Any) -> None:
    """Counts publicTrade items with the `websockets` client (C-speed UTF-8 checks)."""
    import asyncio

    import websockets

    async def run() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/v5/public/linear", max_size=None) as conn:
            await conn.send(json.dumps({"op": "subscribe", "req_id": "b", "args": ["publicTrade.ETHUSDT"]}))
            await conn.recv()
            ready.set()
            count, first, last = 0, 0.0, 0.0
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(conn.recv(), timeout=3))
                except TimeoutError:
                    break
                if message.get("topic") == "publicTrade.ETHUSDT":
                    last = time.monotonic()
                    first = first or last
                    count += len(message["data"])
            results.put((count, last - first))

    asyncio.run(run())


def pybit_trade_counter(port: int, ready: Any, results: Any) -> None:
    """Counts publicTrade items received by unmodified pybit."""
    import pybit.unified_trading as ut

    ut.PUBLIC_WSS = f"ws://127.0.0.1:{port}/v5/public/{{CHANNEL_TYPE}}"
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_trades(message: dict[str, Any]) -> None:
        now = time.monotonic()
        state["first"] = state["first"] or now
        state["last"] = now
        state["count"] += len(message["data"])

    ws = ut.WebSocket(testnet=False, channel_type="linear")
    ws.trade_stream("ETHUSDT", on_trades)
    time.sleep(0.3)
    ready.set()
    while True:
        seen = state["count"]
        time.sleep(3)
        if state["count"] == seen and seen:
            break
    ws.exit()
    results.put((int(state["count"]), float(state["last"] - state["first"])))


def bench_trades(port: int, seconds: float, counter: Any) -> dict[str, Any]:
    """Bursts of 5,000 trades back to back for `seconds`; the rate is what the client got."""
    control = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    control.post("/sim/clock", json={"paused": True})  # only burst trades on the tape
    ready = mp.Event()
    results: mp.Queue[tuple[int, float]] = mp.Queue()
    worker = mp.Process(target=counter, args=(port, ready, results))
    worker.start()
    ready.wait(30)
    time.sleep(0.3)
    pushed_before = control.get("/sim/health").json()["tradesPushed"]
    sign = 1
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        control.post("/sim/market/ETHUSDT/burst", json={"pct": 0.2 * sign, "trades": 5000, "window_ms": 0})
        sign = -sign
    generating = time.monotonic() - started
    pushed = control.get("/sim/health").json()["tradesPushed"] - pushed_before
    count, span = results.get(timeout=600)
    worker.join()
    control.post("/sim/clock", json={"paused": False})
    span = max(span, generating)
    return {"trades_received": count, "trades_pushed": pushed, "seconds": round(span, 2),
            "trades_per_s": round(count / span, 1)}  # fmt: skip


def record(result: dict[str, Any]) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    if not path.exists():
        path.write_text(
            "# Benchmarks\n\nRows are appended by the scripts in `bench/`; newest last.\n\n"
            "## Simulator throughput (`bench/sim_throughput.py`)\n\n"
            "| date (UTC) | machine | orders/s via pybit (clients) | WS trades/s | goals met |\n"
            "|---|---|---|---|---|\n"
        )
    text = path.read_text()
    if "bench/sim_throughput.py" not in text:
        text += (
            "\n## Simulator throughput (`bench/sim_throughput.py`)\n\n"
            "| date (UTC) | machine | orders/s via pybit (clients) | WS trades/s | goals met |\n"
            "|---|---|---|---|---|\n"
        )
    orders, trades = result["orders"], result["trades"]
    met = orders["orders_per_s"] >= ORDER_GOAL and trades["trades_per_s"] >= TRADE_GOAL
    row = (
        f"| {result['date']} | {result['machine']} | {orders['orders_per_s']} ({orders['clients']}) "
        f"| {trades['trades_per_s']} (pybit client: {result['trades_pybit_client']['trades_per_s']}) "
        f"| {'yes' if met else 'no'} |\n"
    )
    path.write_text(text + row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    port = free_port()
    process = start_simulator(port)
    try:
        orders = bench_orders(port, args.seconds, args.clients)
        trades = bench_trades(port, args.seconds, fast_trade_counter)
        pybit_trades = bench_trades(port, min(args.seconds, 2.0), pybit_trade_counter)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    result = {
        "benchmark": "sim_throughput",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": _report.machine(load=False),
        "orders": orders,
        "trades": trades,
        "trades_pybit_client": pybit_trades,
        "goals": {"orders_per_s": ORDER_GOAL, "trades_per_s": TRADE_GOAL},
    }
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record(result)


if __name__ == "__main__":
    main()
