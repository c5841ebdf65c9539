"""Each service on a host of its own: brain, execution, console and the scavenger each in a
Linux network namespace (its own loopback, its own addresses, the same ports), linked by
veth pairs to one bridge in the root namespace. Every service listens on 0.0.0.0
(TITAN_BIND_HOST) and reaches the others only through TITAN_*_URL at their namespaces'
addresses; the simulator, Postgres and Redis are reached over the links at the bridge's
address. An operator arms through the console, a signal goes to the brain, execution
opens the position on the simulator, the console shows it, and FLATTEN ALL through the
console closes it on the exchange.

Postgres and Redis listen on loopback only, so a small TCP relay in this process listens
on the bridge's address and passes each connection on (the machine's Postgres, or the
embedded one's socket; a Redis of the test's own). Needs root and `ip netns`; skipped
otherwise. Names carry a random tag, and everything is removed in `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import create_database, drop_database
from tests.e2e.stack import signal_at, wait_until
from tests.integration.console.conftest import create_accounts
from tests.processes import terminate_all, wait_for_health
from titan_common.auth.roles import Role
from titan_common.bus import SIGNALS, StreamProducer, make_redis
from titan_common.db import migrate
from titan_common.embedded import EmbeddedRedis, free_port
from titan_common.exchanges.bybit import BybitAdapter, BybitConfig
from titan_common.messages import Side
from titan_common.settings import DEFAULT_PORTS

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SERVICES = ("brain", "execution", "scavenger", "console")  # the order they start in
PACKAGES = {"brain": "titan_brain", "execution": "titan_execution", "scavenger": "titan_scavenger",
            "console": "titan_console", "simulator": "titan_sim"}  # fmt: skip
ADMIN = ("multihost-admin", "multihost-password")
SYMBOL = "BTCUSDT"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def netns_or_skip() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux: the services run in network namespaces of their own (ip netns)")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's `ip` (apt-get install iproute2)")
    probe = f"titan-probe-{secrets.token_hex(3)}"
    added = ip("netns", "add", probe, check=False)
    if added.returncode != 0:
        pytest.skip(f"`ip netns add` does not work here: {added.stderr.strip()}")
    ip("netns", "delete", probe, check=False)


def free_subnet() -> str:
    """10.77.<n> with nothing of this machine's in it (another run of this test, say)."""
    taken = ip("-4", "-o", "addr").stdout + ip("-4", "route").stdout
    for n in random.sample(range(16, 250), 234):
        if f"10.77.{n}." not in taken:
            return f"10.77.{n}"
    raise AssertionError("no free 10.77.x.0/24 subnet")


# --- the network: a bridge in the root namespace, one namespace per service ----------------


@dataclass
class Network:
    tag: str
    prefix: str  # 10.77.<n>
    bridge: str = field(init=False)
    namespaces: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bridge = f"tb{self.tag}"

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    def address(self, service: str) -> str:
        return f"{self.prefix}.{11 + SERVICES.index(service)}"

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for index, service in enumerate(SERVICES):
            namespace = f"titan-{self.tag}-{service}"
            ip("netns", "add", namespace)
            self.namespaces[service] = namespace
            outside, inside = f"tv{self.tag}{index}", f"tp{self.tag}{index}"
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            self.links.append(outside)
            ip("link", "set", outside, "master", self.bridge)
            ip("link", "set", outside, "up")
            ip("link", "set", inside, "netns", namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "addr", "add", f"{self.address(service)}/24", "dev", inside)
            ip("-n", namespace, "link", "set", inside, "up")

    def remove(self) -> None:
        for namespace in self.namespaces.values():  # its end of each veth pair goes with it
            ip("netns", "delete", namespace, check=False)
        for link in self.links:
            ip("link", "delete", link, check=False)


# --- a TCP relay on the bridge's address to a server that listens on loopback only -----------


class Relay:
    """Listens on `host` (a free port each) and passes every connection on to its target: a
    (host, port) or a Unix socket path. One asyncio loop in a thread."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="relay")
        self.servers: list[asyncio.AbstractServer] = []
        self.thread.start()

    def add(self, target: tuple[str, int] | str) -> int:
        port = free_port()

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            with contextlib.suppress(OSError):
                writer.close()

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if isinstance(target, str):
                    up_reader, up_writer = await asyncio.open_unix_connection(target)
                else:
                    up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def serve() -> None:
            self.servers.append(await asyncio.start_server(connected, self.host, port))

        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        return port

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def postgres_target(server_url: str) -> tuple[str, int] | str:
    parts = urlsplit(server_url)
    query = parse_qs(parts.query)
    port = int(query.get("port", [parts.port or 5432])[0])
    if parts.hostname:
        return (parts.hostname, port)
    return f"{query['host'][0]}/.s.PGSQL.{port}"  # the embedded server's socket


def relayed_database_url(server_url: str, database: str, host: str, port: int) -> str:
    parts = urlsplit(server_url)
    user = parts.username or "postgres"
    credentials = f"{user}:{parts.password}" if parts.password else user
    return f"postgresql://{credentials}@{host}:{port}/{database}"


# --- the test -----------------------------------------------------------------------------


@dataclass
class Hosts:
    network: Network
    urls: dict[str, str]
    database_url: str
    redis_url: str  # as this (root) namespace reaches it
    sim_key: tuple[str, str]

    def console(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # from another host: no loopback, so the console wants credentials even for reads
        return httpx.request(method, self.urls["console"] + path, auth=ADMIN, timeout=60, **kwargs)


@contextlib.contextmanager
def multihost(postgres_server_url: str, root: Path) -> Iterator[Hosts]:
    netns_or_skip()
    tag = secrets.token_hex(3)
    network = Network(tag, free_subnet())
    database = f"titan_multihost_{uuid.uuid4().hex[:8]}"
    redis_server = EmbeddedRedis(root / "redis")
    relay: Relay | None = None
    processes: list[subprocess.Popen[bytes]] = []
    created_database = False
    try:
        network.create()
        local_database_url = create_database(postgres_server_url, database)
        created_database = True
        migrate.upgrade(local_database_url)
        asyncio.run(create_accounts(local_database_url, {ADMIN[0]: (ADMIN[1], Role.ADMIN)}))
        redis_url = redis_server.start()
        relay = Relay(network.gateway)
        pg_port = relay.add(postgres_target(postgres_server_url))
        redis_port = relay.add(("127.0.0.1", int(urlsplit(redis_url).port or 6379)))
        database_url = relayed_database_url(postgres_server_url, database, network.gateway, pg_port)

        sim_port, sim_mexc_port = free_port(), free_port()
        sim_key = ("MH" + secrets.token_hex(8).upper(), secrets.token_hex(16))
        urls = {service: f"http://{network.address(service)}:{DEFAULT_PORTS[service]}" for service in SERVICES}
        urls["simulator"] = f"http://{network.gateway}:{sim_port}"
        inherited = ("DATABASE_URL", "REDIS_URL")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_") and k not in inherited}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "SYSTEM_MODE": "PAPER",
                "DATABASE_URL": database_url,
                "REDIS_URL": f"redis://{network.gateway}:{redis_port}/0",
                "TITAN_VENUES": "bybit",
                "TITAN_BIND_HOST": "0.0.0.0",  # inside its own namespace
                **{f"TITAN_{service.upper()}_URL": url for service, url in urls.items()},
                "TITAN_BYBIT_ENDPOINT": urls["simulator"],
                "TITAN_BYBIT_API_KEY": sim_key[0],
                "TITAN_BYBIT_API_SECRET": sim_key[1],
                "TITAN_SIM_API_KEY": sim_key[0],
                "TITAN_SIM_API_SECRET": sim_key[1],
                "TITAN_SIM_DEMO_BURSTS": "false",
                "TITAN_RUN_ID": f"mh-{tag}",
            }
        )
        # the simulator stands in for the exchange: in the root namespace, on the bridge's address
        sim_env = {**env, "TITAN_BIND_HOST": network.gateway, "TITAN_SIMULATOR_PORT": str(sim_port),
                   "TITAN_SIM_MEXC_PORT": str(sim_mexc_port), "TITAN_VAR_DIR": str(root / "simulator")}  # fmt: skip
        processes.append(start(["-m", PACKAGES["simulator"]], sim_env, root / "simulator.log"))
        wait_for_health(urls["simulator"], timeout=60)
        for service in SERVICES:
            own = {**env, "TITAN_VAR_DIR": str(root / service)}  # each host its own disk
            argv = ["ip", "netns", "exec", network.namespaces[service], sys.executable, "-m", PACKAGES[service]]
            processes.append(start(argv, own, root / f"{service}.log", prefix=False))
        for service in SERVICES:
            wait_for_health(urls[service], timeout=120, ready=True)
        yield Hosts(network, urls, database_url, redis_url, sim_key)
    except BaseException:
        for log in sorted(root.glob("*.log")):
            print(f"--- {log.name} (last 40 lines)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        terminate_all(processes, timeout=20)
        if relay is not None:
            relay.close()
        redis_server.stop()
        network.remove()
        if created_database:
            drop_database(postgres_server_url, database)


def start(args: list[str], env: dict[str, str], log: Path, *, prefix: bool = True) -> subprocess.Popen[bytes]:
    argv = [sys.executable, *args] if prefix else args
    return subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def exchange_positions(hosts: Hosts) -> int:
    async def count() -> int:
        adapter = BybitAdapter(BybitConfig(hosts.urls["simulator"], *hosts.sim_key))
        try:
            return sum(1 for p in await adapter.positions() if p.size > 0)
        finally:
            await adapter.close()

    return asyncio.run(count())


def publish(redis_url: str, build: Callable[[], Any]) -> None:
    async def send() -> None:
        redis = make_redis(redis_url)
        try:
            await StreamProducer(redis, SIGNALS).publish(build())
        finally:
            await redis.aclose()

    asyncio.run(send())


@pytest.mark.timeout(300)
def test_a_paper_trade_and_a_flatten_across_four_hosts(postgres_server_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with multihost(postgres_server_url, tmp_path) as hosts:
        print(f"stack up on {hosts.network.prefix}.0/24 in {time.monotonic() - started:.1f}s")
        for service in SERVICES:
            assert hosts.urls[service].startswith(f"http://{hosts.network.prefix}.")
        # the console saw every other service across the links
        status = wait_until(
            lambda: (s := hosts.console("GET", "/api/status").json())["mode"] == "NORMAL" and s,
            60,
            "the console to see every service NORMAL",
        )
        assert status["masterArm"] is False

        armed = hosts.console("POST", "/api/console/master-arm", json={"enabled": True, "operator_id": "ops"})
        assert armed.status_code == 200, armed.text
        assert hosts.console("GET", "/api/status").json()["masterArm"] is True

        # a signal as the scavenger sends it: the brain (its namespace) decides, execution (its
        # namespace) places the order on the simulator (the root namespace)
        ticker = httpx.get(
            hosts.urls["simulator"] + f"/v5/market/tickers?category=linear&symbol={SYMBOL}", timeout=10
        ).json()
        price = Decimal(ticker["result"]["list"][0]["lastPrice"])
        publish(hosts.redis_url, lambda: signal_at(price, SYMBOL, Side.BUY, run_id="multihost"))
        positions = wait_until(
            lambda: (p := hosts.console("GET", "/positions").json())["count"] >= 1 and p,
            45,
            "the position in the console (console -> execution)",
        )
        position = positions["positions"][0]
        assert position["symbol"] == SYMBOL
        assert position["stopLoss"] is not None
        assert exchange_positions(hosts) == 1
        decisions = httpx.get(hosts.urls["brain"] + "/decisions?limit=5", timeout=10).json()
        assert any(d.get("symbol") == SYMBOL for d in decisions["decisions"]), decisions

        # FLATTEN ALL through the console: execution closes it on the exchange, disarms
        flattened = hosts.console("POST", "/api/emergency/flatten").json()
        assert flattened["success"] is True, flattened
        assert flattened["positions_closed"] >= 1
        wait_until(lambda: hosts.console("GET", "/positions").json()["count"] == 0, 30, "no positions")
        wait_until(lambda: exchange_positions(hosts) == 0, 30, "flat on the exchange")
        assert hosts.console("GET", "/api/status").json()["masterArm"] is False
    print(f"multihost test done in {time.monotonic() - started:.1f}s")
