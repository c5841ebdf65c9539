"""PM2 (deploy/ecosystem.config.js, evaluated by real node) and systemd (deploy/systemd/*,
checked by systemd-analyze verify): the six Titan processes, the runbook's memory limits,
commands that start real services, secrets from .env."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from titan_ops.registry import SERVICES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SYSTEMD = ROOT / "deploy" / "systemd"
APPS = ("titan-brain", "titan-execution", "titan-console", "titan-scavenger", "titan-worker", "titan-beat")
# the daily operations runbook: brain < 200 MB, execution < 300 MB, scavenger < 200 MB
RUNBOOK_MEMORY = {"titan-brain": "200M", "titan-execution": "300M", "titan-scavenger": "200M"}


def pm2_apps(tmp_path: Path, env_file: str) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (PM2 runs on node)")
    (tmp_path / "deploy").mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "ecosystem.config.js", tmp_path / "deploy" / "ecosystem.config.js")
    (tmp_path / ".env").write_text(env_file)
    script = "console.log(JSON.stringify(require(process.argv[1]).apps))"
    out = subprocess.run(
        [node, "-e", script, str(tmp_path / "deploy" / "ecosystem.config.js")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return {a["name"]: a for a in json.loads(out.stdout)}


PAPER_ENV = """# comment
SYSTEM_MODE=PAPER
DATABASE_URL=postgresql://titan:s3cret@127.0.0.1:5432/titan
REDIS_URL="redis://127.0.0.1:6379/0"
TITAN_INTERNAL_TOKEN=tok
"""


def test_pm2_defines_every_titan_process_with_the_runbooks_limits(tmp_path: Path) -> None:
    apps = pm2_apps(tmp_path, PAPER_ENV)
    assert set(APPS) <= set(apps)
    for name, limit in RUNBOOK_MEMORY.items():
        assert apps[name]["max_memory_restart"] == limit
    for name in APPS:
        app = apps[name]
        assert app["namespace"] == "titan-core"  # `pm2 logs titan-core`, `pm2 restart titan-core`
        assert app["cwd"] == str(tmp_path)
        assert app["interpreter"] == "none"
        assert app["autorestart"] is True
        assert app["kill_timeout"] >= 10000
        assert app["env"]["DATABASE_URL"] == "postgresql://titan:s3cret@127.0.0.1:5432/titan"
        assert app["env"]["REDIS_URL"] == "redis://127.0.0.1:6379/0"  # quotes removed
        assert app["env"]["TITAN_VAR_DIR"] == str(tmp_path / "var")
        service = name.removeprefix("titan-")
        if service in ("worker", "beat"):
            assert app["script"] == str(tmp_path / ".venv" / "bin" / "python")
            assert app["args"] == ["-m", "titan_worker", service]
        else:
            assert app["script"] == str(tmp_path / ".venv" / "bin" / "titan")
            assert app["args"] == ["serve", service]
            assert service in SERVICES
    # PAPER against the local simulator runs it too
    assert apps["titan-simulator"]["args"] == ["serve", "simulator"]


def test_pm2_runs_an_execution_and_a_scavenger_for_each_other_venue(tmp_path: Path) -> None:
    apps = pm2_apps(tmp_path, PAPER_ENV + "TITAN_VENUES=bybit,mexc\n")
    for kind in ("execution", "scavenger"):
        mexc = apps[f"titan-{kind}-mexc"]
        assert mexc["args"] == ["serve", kind]
        assert mexc["env"][f"TITAN_{kind.upper()}_VENUE"] == "mexc"
        assert mexc["env"]["TITAN_EXCHANGE"] == "mexc"  # its own account, never the first venue's
        assert mexc["max_memory_restart"] == RUNBOOK_MEMORY[f"titan-{kind}"]
        assert f"TITAN_{kind.upper()}_VENUE" not in apps[f"titan-{kind}"]["env"]
    assert "titan-execution-mexc" not in pm2_apps(tmp_path, PAPER_ENV)  # MEXC only when enabled


def test_systemd_runs_mexcs_execution_and_scavenger_when_enabled() -> None:
    for kind in ("execution", "scavenger"):
        service = unit(f"titan-{kind}-mexc.service")
        assert service["Service"]["ExecStart"] == f"/opt/titan/.venv/bin/titan serve {kind}"
        assert service["Service"]["Environment"] == f"TITAN_{kind.upper()}_VENUE=mexc TITAN_EXCHANGE=mexc"
        assert service["Service"]["MemoryMax"] == RUNBOOK_MEMORY[f"titan-{kind}"]
        assert service["Install"]["WantedBy"] == "titan.target"


def test_pm2_starts_no_simulator_for_live_or_a_real_exchange(tmp_path: Path) -> None:
    live = pm2_apps(tmp_path, PAPER_ENV.replace("PAPER", "LIVE"))
    assert set(live) == set(APPS)
    testnet = pm2_apps(tmp_path, PAPER_ENV + "TITAN_BYBIT_ENDPOINT=https://api-testnet.bybit.com\n")
    assert set(testnet) == set(APPS)


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)  # ExecStart may repeat (oneshot)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser


def test_systemd_units_run_every_titan_process() -> None:
    target = unit("titan.target")
    wanted = set(target["Unit"]["Wants"].split())
    assert {f"{a}.service" for a in APPS} | {"titan-init.service"} <= wanted
    for name in APPS:
        service = unit(f"{name}.service")
        exec_start = service["Service"]["ExecStart"]
        role = name.removeprefix("titan-")
        if role in ("worker", "beat"):
            assert exec_start == f"/opt/titan/.venv/bin/python -m titan_worker {role}"
        else:
            assert exec_start == f"/opt/titan/.venv/bin/titan serve {role}"
        assert service["Service"]["EnvironmentFile"] == "/opt/titan/.env"
        assert service["Service"]["Restart"] == "always"
        assert service["Service"]["User"] == "titan"
        assert service["Unit"]["Requires"] == "titan-init.service"
        assert service["Install"]["WantedBy"] == "titan.target"
    for name, limit in RUNBOOK_MEMORY.items():
        assert unit(f"{name}.service")["Service"]["MemoryMax"] == limit
    init = (SYSTEMD / "titan-init.service").read_text()
    assert "ExecStart=/opt/titan/.venv/bin/titan migrate" in init
    assert "titan preflight" in init


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    venv = ROOT / ".venv"
    for path in [*SYSTEMD.glob("titan-*.service"), SYSTEMD / "titan.target"]:
        text = path.read_text().replace("/opt/titan/.venv", str(venv)).replace("/opt/titan", str(tmp_path))
        # verify checks that users and binaries exist; this machine has no `titan` user
        text = text.replace("User=titan", "User=root").replace("Group=titan", "Group=root")
        (tmp_path / path.name).write_text(text)
    (tmp_path / ".env").write_text("SYSTEM_MODE=PAPER\n")
    units = sorted(str(p) for p in tmp_path.glob("titan*.*") if p.suffix in (".service", ".target"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
