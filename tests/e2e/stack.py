"""The whole stack as `titan up` runs it, for end-to-end tests: one supervisor, real
processes (simulator, brain, execution, scavenger, console), a fresh Postgres database,
and the embedded Redis (a child of the supervisor, so a test can kill it too)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import create_database, drop_database
from tests.processes import SERVICE_NAMES, free_ports, port_env, wait_for_health
from titan_common.clock import now_ms
from titan_common.messages import Correlation, Side, Signal, new_id
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

ADMIN = ("admin", "password")  # PAPER bootstraps it


def titan_cli() -> str:
    beside_python = Path(sys.executable).parent / "titan"
    found = str(beside_python) if beside_python.exists() else shutil.which("titan")
    assert found, "the titan CLI is not installed in this environment"
    return found


@dataclass
class Stack:
    root: Path
    ports: dict[str, int]
    database_url: str
    env: dict[str, str]
    supervisor: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.root / "up.log"

    # --- lifecycle ---

    def start(self, timeout: float = 150.0) -> None:
        out = self.log_path.open("ab")
        self.supervisor = subprocess.Popen(
            [titan_cli(), "up"], cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        for name in SERVICE_NAMES:
            wait_for_health(self.url(name), timeout=timeout, ready=True)

    def stop(self) -> None:
        if self.supervisor is not None and self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGINT)
            try:
                self.supervisor.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()
                self.supervisor.wait()

    # --- where things are ---

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def pid(self, service: str) -> int:
        return int(httpx.get(self.url(service) + "/health", timeout=5).json()["pid"])

    def redis_process(self) -> psutil.Process:
        assert self.supervisor is not None
        for child in psutil.Process(self.supervisor.pid).children(recursive=True):
            if "redis-server" in " ".join(child.cmdline()):
                return child
        raise AssertionError("no embedded redis-server under the supervisor")

    def redis_url(self) -> str:
        # redis-server rewrites its title to "redis-server 127.0.0.1:PORT": ask for its socket
        listening = [c.laddr.port for c in self.redis_process().net_connections("tcp") if c.status == "LISTEN"]
        return f"redis://127.0.0.1:{listening[0]}/0"

    def sim_credentials(self) -> dict[str, str]:
        return dict(json.loads((self.root / "var" / "sim-credentials.json").read_text()))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- talking to it ---

    def internal_headers(self, operator: str = "e2e") -> dict[str, str]:
        return {"X-Titan-Token": DEFAULT_INTERNAL_TOKEN, "X-Titan-Operator": operator}

    def sim(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.url("simulator") + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def last_price(self, symbol: str) -> Decimal:
        body = self.sim("GET", f"/v5/market/tickers?category=linear&symbol={symbol}")
        return Decimal(body["result"]["list"][0]["lastPrice"])

    def accepted_orders_by_link_id(self) -> dict[str, int]:
        """Orders the simulator accepted, counted per orderLinkId (a rejected duplicate
        attempt is not an order)."""
        counts: dict[str, int] = {}
        for row in self.sim("GET", "/sim/orders")["list"]:
            if row["retCode"] == 0 and row["orderLinkId"]:
                counts[row["orderLinkId"]] = counts.get(row["orderLinkId"], 0) + 1
        return counts


def make_stack(root: Path, database_url: str, **overrides: str) -> Stack:
    ports = free_ports()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("TITAN_")}
    env.update(port_env(ports))
    env.update(
        {
            "DATABASE_URL": database_url,
            "TITAN_VAR_DIR": str(root / "var"),
            "PYTHONUNBUFFERED": "1",
            "TITAN_RUN_ID": "e2e-" + re.sub(r"[^a-z0-9]", "", root.name.lower())[-8:],
            **overrides,
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    return Stack(root=root, ports=ports, database_url=database_url, env=env)


@contextmanager
def running_stack(postgres_server_url: str, root: Path, **overrides: str) -> Iterator[Stack]:
    """A started stack on a database of its own; stopped, and the database dropped, after."""
    name = f"titan_e2e_{uuid.uuid4().hex[:8]}"
    database_url = create_database(postgres_server_url, name)
    running = make_stack(root, database_url, **overrides)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        drop_database(postgres_server_url, name)


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, ValueError, KeyError, AssertionError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def signal_at(
    price: Decimal,
    symbol: str,
    side: Side,
    *,
    run_id: str = "e2e-crash",
    stop_pct: Decimal = Decimal("0.02"),
    ttl_ms: int = 20_000,
) -> Signal:
    """A tradable signal as the scavenger would send it, entered at `price` now: the stop
    `stop_pct` away, the target three stops away (at least 6%)."""
    direction = Decimal(1) if side is Side.BUY else Decimal(-1)
    target_pct = max(Decimal("0.06"), 3 * stop_pct)
    ts = now_ms()
    return Signal(
        signal_id=new_id(),
        ts_ms=ts,
        correlation=Correlation(run_id=run_id, cycle_id=str(ts)),
        source="e2e",
        symbol=symbol,
        side=side,
        trap_type="E2E",
        entry_price=price,
        entry_low=price * Decimal("0.999"),
        entry_high=price * Decimal("1.001"),
        stop_loss=price * (1 - direction * stop_pct),
        take_profits=(price * (1 + direction * target_pct),),
        confidence=Decimal("0.8"),
        leverage_hint=5,
        expected_move_pct=Decimal("0.06"),
        ttl_ms=ttl_ms,
    )


async def signal_for(stack: Stack, symbol: str, side: Side) -> Signal:
    """A signal at the simulator's last price of `symbol`."""
    price = await asyncio.to_thread(stack.last_price, symbol)
    return signal_at(price, symbol, side)
