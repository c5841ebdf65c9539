"""Start Titan processes for tests the way `titan up` does: real processes on free ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from titan_common.embedded import free_port
from titan_ops.registry import SERVICES

SERVICE_NAMES = ("simulator", "brain", "execution", "scavenger", "console")


def port_env(ports: dict[str, int]) -> dict[str, str]:
    """Every port a `titan up` would take, free ones: the services', nginx's, the worker's
    metrics and the simulator's MEXC face, so two stacks never race for 8080, 3006 or 9101."""
    extra = free_ports(["nginx", "worker_metrics", "sim_mexc", "execution_mexc", "scavenger_mexc"])
    return {
        **{f"TITAN_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "TITAN_NGINX_PORT": str(extra["nginx"]),
        "TITAN_WORKER_METRICS_PORT": str(extra["worker_metrics"]),
        "TITAN_SIM_MEXC_PORT": str(extra["sim_mexc"]),  # the simulator's MEXC face
        "TITAN_EXECUTION_PORTS": json.dumps({"mexc": extra["execution_mexc"]}),  # MEXC's execution
        "TITAN_SCAVENGER_PORTS": json.dumps({"mexc": extra["scavenger_mexc"]}),  # MEXC's scavenger
    }


def free_ports(names: Iterable[str] = SERVICE_NAMES) -> dict[str, int]:
    return {name: free_port() for name in names}


def ready_ok(body: dict[str, object]) -> bool:
    """A service's /health body says ok and start-up is done."""
    return body.get("status") == "ok" and body.get("ready") is True


def wait_for_health(
    url: str, timeout: float = 30.0, want: Iterable[str] = ("ok", "healthy"), *, ready: bool = False
) -> dict[str, object]:
    """Poll /health until its status is in `want` (a service says ok; the console, whose
    /health is the aggregate, says healthy) and, with `ready`, until it says it can act
    (startup recovery done), not merely answer."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{url}/health", timeout=2.0).json()
            if body.get("status") in want and (not ready or body.get("ready") is True):
                return dict(body)
            last = body
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url}/health never became {tuple(want)}: {last}")


def start_service(name: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    handle = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", SERVICES[name].package],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> float:
    """SIGTERM and wait; returns the seconds it took. Kills (and fails) past the timeout."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"pid {process.pid} ignored SIGTERM for {timeout}s") from None
    return time.monotonic() - started


def terminate_all(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM every process at once, then wait for each: their shutdowns overlap."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def until(predicate: Any, timeout: float = 20.0, what: str = "condition", interval: float = 0.1) -> Any:
    """Poll a (sync or async) predicate until it returns something truthy; that is returned."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def metric_value(exposition: str, name: str) -> float:
    """The sum of every sample of `name` (any labels) in a Prometheus text exposition."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- a local OpenAI-compatible server (tests/openai_stub.py) ----------------------------------


@dataclass(frozen=True)
class StubServer:
    url: str

    @property
    def completions_url(self) -> str:
        return f"{self.url}/v1/chat/completions"

    def script(self, *, content: str | None = None, delay_s: float = 0.0, status: int = 200) -> None:
        body = {"content": content, "delay_s": delay_s, "status": status}
        httpx.post(f"{self.url}/_script", json=body, timeout=5).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_requests", timeout=5).json())


@contextmanager
def running_openai_stub(log_dir: Path) -> Iterator[StubServer]:
    port = free_ports(["stub"])["stub"]
    log = (log_dir / "stub.out").open("ab")
    stub = Path(__file__).resolve().parent / "openai_stub.py"
    process = subprocess.Popen([sys.executable, str(stub), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/_requests", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the OpenAI stub did not start")
            time.sleep(0.1)
        yield StubServer(url)
    finally:
        terminate(process)
        log.close()
