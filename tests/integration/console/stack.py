"""A live Titan stack for the console's tests: simulator, brain, execution, scavenger and
console as real processes (tests/processes.py), on free ports, with the session's fresh
Postgres database and a private Redis server.

The Redis server is private because pub/sub channels (titan:events, titan:control) are
global to a server: a kill switch test must not pause anyone else's scavenger.

The brain, execution and the scavenger start together, as `titan up` starts them; when the
brain or the scavenger does not come up, the stack still runs and `stack.up[name]` says so, so only the tests that
need it are skipped or marked xfail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx

from tests.processes import free_ports, port_env, start_service, terminate, wait_for_health
from titan_common.bus import INTENTS, StreamProducer, StreamSpec, make_redis
from titan_common.clock import now_ms
from titan_common.embedded import EmbeddedRedis
from titan_common.messages import Correlation, OrderIntent, Side, client_order_id_for, new_id

ADMIN = ("admin", "password")  # the PAPER bootstrap account the daily runbook uses
INTERNAL_TOKEN = "console-test-internal-token"
ANY_STATUS = ("ok", "degraded", "healthy", "unhealthy")  # a stack's services may run degraded


def external_address() -> str | None:
    """A non-loopback address of this machine, to call the console as a remote client."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))  # no packet is sent for UDP connect
        address = str(probe.getsockname()[0])
        if not address.startswith("127."):
            return address
    return None


@dataclass
class Stack:
    root: Path
    database_url: str
    redis_url: str
    ports: dict[str, int]
    env: dict[str, str]
    sim_key: str
    sim_secret: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    up: dict[str, bool] = field(default_factory=dict)
    redis_server: EmbeddedRedis | None = None  # the stack's own: an outage test stops it

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def console(self) -> str:
        return self.url("console")

    @property
    def sim(self) -> str:
        return self.url("simulator")

    def sim_control(self, method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        response = httpx.request(method, f"{self.sim}/sim{path}", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def start(self, name: str, *, timeout: float = 90.0, required: bool = True, **extra_env: str) -> bool:
        self.spawn(name, **extra_env)
        return self.await_ready(name, timeout=timeout, required=required)

    def start_together(self, names: dict[str, bool], timeout: float = 90.0) -> None:
        """Start these services at once, as `titan up` does, and wait for each ({name:
        required}): their start-ups overlap instead of adding up."""
        for name in names:
            self.spawn(name)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            waits = [pool.submit(self.await_ready, name, timeout=timeout, required=req) for name, req in names.items()]
            for wait in waits:
                wait.result()

    def spawn(self, name: str, **extra_env: str) -> None:
        env = {**self.env, **extra_env}
        # another venue's execution or scavenger (`execution-mexc`) is that service on its venue
        service, _, venue = name.partition("-")
        if venue:  # as `titan up` starts it: the venue's own account
            env.update({f"TITAN_{service.upper()}_VENUE": venue, "TITAN_EXCHANGE": venue})
        self.processes[name] = start_service(service, env, self.root / f"{name}.log")

    def await_ready(self, name: str, *, timeout: float = 90.0, required: bool = True) -> bool:
        """Wait until `name` says it is ready (and the console sees it, once the console runs)."""
        try:
            # ready, not just answering: execution's emergency routes need startup recovery done
            wait_for_health(self.url(name), timeout=timeout, want=ANY_STATUS, ready=True)
            if name != "console" and self.up.get("console"):
                self.wait_for(lambda: self.console_sees_ready(name), timeout=timeout)
        except AssertionError:
            if required:
                raise AssertionError(f"{name} did not start; see {self.root / (name + '.log')}") from None
            self.up[name] = False
            return False
        self.up[name] = True
        return True

    def console_sees_ready(self, name: str) -> bool:
        """The console's own view of `name` (its aggregate /health) says it answers and is ready."""
        try:
            view = httpx.get(f"{self.console}/health", timeout=5).json()["services"][name]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return False
        return bool(view.get("reachable") and view.get("ready"))

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None and process.poll() is None:
            terminate(process, timeout=20)
        self.up[name] = False

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for(self, probe: object, timeout: float = 30.0, interval: float = 0.25) -> object:
        """Poll `probe()` until it returns something truthy; fail with the last value."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            last = probe()  # type: ignore[operator]
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def until(probe: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `probe()` until it returns something truthy (an HTTP error or a body that is not
    the JSON expected counts as not yet); fail naming `what` and the last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"never: {what} (last: {last})")


@contextlib.contextmanager
def running_stack(
    root: Path, database_url: str, *, console_env: dict[str, str] | None = None, venues: tuple[str, ...] = ("bybit",)
) -> Iterator[Stack]:
    """The whole stack, started in Titan's order, stopped in reverse (console first). With
    `venues=("bybit", "mexc")` it trades both of the simulator's faces, an execution each."""
    redis_server = EmbeddedRedis(root / "redis")
    redis_url = redis_server.start()
    ports = free_ports()
    sim_key, sim_secret = f"K{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SYSTEM_MODE": "PAPER",
        "TITAN_VAR_DIR": str(root / "var"),
        "TITAN_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "TITAN_RUN_ID": f"console-test-{uuid.uuid4().hex[:6]}",
        "TITAN_SIM_API_KEY": sim_key,
        "TITAN_SIM_API_SECRET": sim_secret,
        "TITAN_SIM_BACKFILL_MINUTES": "60",
        "TITAN_BYBIT_ENDPOINT": f"http://127.0.0.1:{ports['simulator']}",
        "TITAN_BYBIT_API_KEY": sim_key,
        "TITAN_BYBIT_API_SECRET": sim_secret,
        "TITAN_WALLET_POLL_S": "1",
        "TITAN_RECONCILE_RECHECK_S": "2",
        "TITAN_HEARTBEAT_INTERVAL_S": "1",
        **port_env(ports),
    }
    if "mexc" in venues:
        mexc_key, mexc_secret = f"mx0{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
        env.update(
            {
                "TITAN_VENUES": ",".join(venues),
                # the first venue's account, apart from the shared console stack's rows
                "TITAN_EXCHANGE": f"{venues[0]}-{uuid.uuid4().hex[:6]}",
                "TITAN_SIM_MEXC_API_KEY": mexc_key,
                "TITAN_SIM_MEXC_API_SECRET": mexc_secret,
                "TITAN_MEXC_ENDPOINT": f"http://127.0.0.1:{env['TITAN_SIM_MEXC_PORT']}",
                "TITAN_MEXC_API_KEY": mexc_key,
                "TITAN_MEXC_API_SECRET": mexc_secret,
                "TITAN_PRICE_STALE_S": "2",
            }
        )
        ports["execution-mexc"] = int(json.loads(env["TITAN_EXECUTION_PORTS"])["mexc"])
        ports["scavenger-mexc"] = int(json.loads(env["TITAN_SCAVENGER_PORTS"])["mexc"])
        ports["simulator-mexc"] = int(env["TITAN_SIM_MEXC_PORT"])
    stack = Stack(root, database_url, redis_url, ports, env, sim_key, sim_secret, redis_server=redis_server)
    try:
        stack.start("simulator")
        services = {"brain": False, "execution": True, "scavenger": False}
        for venue in venues[1:]:
            services.update({f"execution-{venue}": True, f"scavenger-{venue}": False})
        stack.start_together(services)
        stack.start("console", **(console_env or {}))
        yield stack
    finally:
        for name in reversed(list(stack.processes)):
            with contextlib.suppress(AssertionError):
                stack.stop(name)
        redis_server.stop()


# --- trading on a venue as the brain would (both-venue stacks) -------------------------------

SYMBOL = "BTCUSDT"


def last_price(stack: Stack, venue: str) -> D:
    if venue == "mexc":
        url = f"http://127.0.0.1:{stack.ports['simulator-mexc']}/api/v3/ticker/price"
        return D(httpx.get(url, params={"symbol": SYMBOL}, timeout=10).json()["price"])
    body = httpx.get(f"{stack.sim}/v5/market/tickers", params={"category": "linear", "symbol": SYMBOL}, timeout=10)
    return D(body.json()["result"]["list"][0]["lastPrice"])


def entry(venue: str, price: D) -> OrderIntent:
    """A long entry on `venue` with a far stop, as the brain would send it."""
    intent_id = new_id()
    return OrderIntent(
        intent_id=intent_id,
        client_order_id=client_order_id_for(intent_id),
        ts_ms=now_ms(),
        correlation=Correlation(run_id=f"two-venues-{uuid.uuid4().hex[:6]}"),
        exchange=venue,
        symbol=SYMBOL,
        side=Side.BUY,
        qty=D("0.010"),
        reference_price=price,
        stop_loss=(price * D("0.9")).quantize(D("0.1")),
        leverage=1,
        ttl_ms=60_000,
    )


def publish(stack: Stack, message: Any, stream: StreamSpec[Any] = INTENTS) -> None:
    """Put the message on its stream (titan:intents by default), from a thread of its own: a
    caller may already run an event loop (Playwright's sync API does)."""

    async def send() -> None:
        redis = make_redis(stack.redis_url)
        try:
            await StreamProducer(redis, stream).publish(message)
        finally:
            await redis.aclose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, send()).result(timeout=30)
