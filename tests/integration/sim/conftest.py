"""The simulator as a real process on a free port, driven by unmodified pybit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ccxt
import httpx
import pybit._websocket_trading
import pybit.unified_trading
import pytest
from pybit.unified_trading import HTTP, WebSocket

from titan_common.embedded import free_port

API_KEY = "sim-test-key"
API_SECRET = "sim-test-secret"
MEXC_API_KEY = "sim-test-mexc-key"
MEXC_API_SECRET = "sim-test-mexc-secret"


class Sim:
    """Handle on the running simulator: its URL, a control client and pybit factories."""

    def __init__(self, port: int, mexc_port: int | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.mexc_port = mexc_port
        self.mexc_url = f"http://127.0.0.1:{mexc_port}" if mexc_port else ""
        self.control = httpx.Client(base_url=self.url, timeout=10)

    def http(self, **kwargs: Any) -> HTTP:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("api_secret", API_SECRET)
        session = HTTP(testnet=False, **kwargs)
        session.endpoint = self.url
        return session

    def mexc(self, **config: Any) -> ccxt.mexc:
        """Unmodified ccxt with only its base URLs pointed at the MEXC face: spot requests go
        to {base}/api/v3/..., and load_markets' contract listing to {base}/api/v1/contract/detail."""
        config.setdefault("apiKey", MEXC_API_KEY)
        config.setdefault("secret", MEXC_API_SECRET)
        config.setdefault("timeout", 5000)
        exchange = ccxt.mexc(config)
        exchange.urls["api"]["spot"]["public"] = self.mexc_url
        exchange.urls["api"]["spot"]["private"] = self.mexc_url
        exchange.urls["api"]["contract"]["public"] = f"{self.mexc_url}/api/v1/contract"
        exchange.urls["api"]["contract"]["private"] = f"{self.mexc_url}/api/v1/private"
        return exchange

    def ws_public(self) -> WebSocket:
        self._patch()
        return WebSocket(testnet=False, channel_type="linear")

    def ws_private(self, **kwargs: Any) -> WebSocket:
        self._patch()
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("api_secret", API_SECRET)
        return WebSocket(testnet=False, channel_type="private", **kwargs)

    def _patch(self) -> None:
        base = f"ws://127.0.0.1:{self.port}"
        pybit.unified_trading.PUBLIC_WSS = base + "/v5/public/{CHANNEL_TYPE}"
        pybit.unified_trading.PRIVATE_WSS = base + "/v5/private"
        pybit._websocket_trading.TRADE_WSS = base + "/v5/trade"

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(path, json=body or {})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def faults(self, **faults: Any) -> dict[str, Any]:
        return self.post("/sim/faults", faults)

    def clear_faults(self) -> None:
        assert self.control.delete("/sim/faults").status_code == 200
        if self.mexc_port:
            assert self.control.delete("/sim/faults", params={"venue": "mexc"}).status_code == 200

    def reset(self) -> None:
        self.post("/sim/reset")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(scope="package")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    port, mexc_port = free_port(), free_port()
    var_dir = tmp_path_factory.mktemp("sim-var")
    env = {
        **os.environ,
        "TITAN_SIMULATOR_PORT": str(port),
        "TITAN_SIM_MEXC_PORT": str(mexc_port),
        "TITAN_VAR_DIR": str(var_dir),
        "TITAN_SIM_API_KEY": API_KEY,
        "TITAN_SIM_API_SECRET": API_SECRET,
        "TITAN_SIM_MEXC_API_KEY": MEXC_API_KEY,
        "TITAN_SIM_MEXC_API_SECRET": MEXC_API_SECRET,
        "TITAN_SIM_SEED": "7",
        "TITAN_SIM_SYMBOLS": "BTCUSDT,ETHUSDT,SOLUSDT,DOGEUSDT",
        "TITAN_SIM_BACKFILL_MINUTES": str(7 * 24 * 60),
        "PYTHONUNBUFFERED": "1",
    }
    log_path: Path = var_dir / "simulator.out"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "titan_sim"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    sim = Sim(port, mexc_port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if sim.control.get("/sim/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"simulator did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield sim
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def sim(sim_process: Sim) -> Iterator[Sim]:
    """A freshly reset venue for each test (same process: starting one takes seconds)."""
    sim_process.reset()
    yield sim_process
    sim_process.clear_faults()
