"""`titan up` in a temp directory on embedded Postgres and Redis, exactly as on a fresh machine.

It must bring every service's /health to ok, restart a killed child (logged as CRASH), and on
Ctrl-C stop everything, leaving no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.processes import SERVICE_NAMES, free_ports, port_env, wait_for_health

pytestmark = pytest.mark.integration


def _titan() -> str:
    # the venv's own script, whether or not the venv is activated
    beside_python = Path(sys.executable).parent / "titan"
    found = str(beside_python) if beside_python.exists() else shutil.which("titan")
    assert found, "the titan CLI is not installed in this environment"
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_titan_up_runs_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    ports = free_ports()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(port_env(ports))
    env.update({"TITAN_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    out = (tmp_path / "up.log").open("wb")
    supervisor = subprocess.Popen([_titan(), "up"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    tracked: set[int] = set()
    try:
        pids = {}
        for name in SERVICE_NAMES:
            body = wait_for_health(f"http://127.0.0.1:{ports[name]}", timeout=120)
            pids[name] = int(str(body["pid"]))
        tracked |= set(pids.values())
        tracked |= {p.pid for p in psutil.Process(supervisor.pid).children(recursive=True)}
        postmaster = (tmp_path / "var" / "pg" / "postmaster.pid").read_text().split()[0]
        tracked.add(int(postmaster))
        assert any("redis-server" in " ".join(psutil.Process(p).cmdline()) for p in tracked if _alive(p))

        # a crashed child is restarted and the restart is logged as CRASH
        os.kill(pids["brain"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                body = wait_for_health(f"http://127.0.0.1:{ports['brain']}", timeout=2)
                if int(str(body["pid"])) != pids["brain"]:
                    tracked.add(int(str(body["pid"])))
                    break
            except AssertionError:
                pass
        else:
            raise AssertionError("brain was not restarted")
        assert "[ERROR] CRASH brain exited with code -9" in (tmp_path / "up.log").read_text()

        # the embedded Redis is supervised too: killed, it comes back on its port, and the
        # services recover by themselves
        redis_pid = next(
            p for p in psutil.Process(supervisor.pid).children(recursive=True)
            if "redis-server" in " ".join(p.cmdline())
        ).pid  # fmt: skip
        os.kill(redis_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "CRASH redis exited" not in (tmp_path / "up.log").read_text():
            assert time.monotonic() < deadline, "the redis crash was not noticed"
            time.sleep(0.2)
        for name in SERVICE_NAMES:
            wait_for_health(f"http://127.0.0.1:{ports[name]}", timeout=60)

        # Ctrl-C: everything stops, nothing is left behind
        tracked |= {p.pid for p in psutil.Process(supervisor.pid).children(recursive=True)}
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=40) == 0
        time.sleep(0.5)
        left = [pid for pid in tracked if _alive(pid)]
        assert not left, f"processes left behind: {[psutil.Process(p).cmdline() for p in left]}"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for pid in tracked:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        out.close()
