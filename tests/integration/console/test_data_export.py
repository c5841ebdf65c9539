"""`titan data export`: the simulator's 1-minute history in the replay format, closed
minutes only, every minute once, and `titan backtest --data` reads it back."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.console.stack import Stack
from titan_common.replay import MINUTE_MS, read_klines

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def titan(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "titan"), *args],
        env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_export_the_simulators_history_and_backtest_it(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "recorded.csv.gz"
    done = titan(stack, "data", "export", "--out", str(out), "--symbols", "BTCUSDT,ETHUSDT", "--days", "0.5")
    assert done.returncode == 0, done.stdout + done.stderr
    klines = read_klines(out)
    assert {k.symbol for k in klines} == {"BTCUSDT", "ETHUSDT"}
    now = int(time.time() * 1000)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        starts = [k.start_ms for k in klines if k.symbol == symbol]
        assert len(starts) >= 30
        assert starts == sorted(set(starts))  # each minute once, in order
        assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(starts))  # no gaps
        assert starts[-1] + MINUTE_MS <= now  # closed minutes only
    ran = titan(stack, "backtest", "--data", str(out))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["symbols"] == ["BTCUSDT", "ETHUSDT"]

    refused = titan(stack, "data", "export", "--out", str(tmp_path / "x.csv"), "--endpoint", "http://127.0.0.1:1")
    assert refused.returncode == 1
    assert "FAIL" in refused.stdout + refused.stderr


def test_the_nightly_job_exports_then_proposes(
    stack: Stack, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from titan_common.settings import load_settings
    from titan_worker import jobs
    from titan_worker.settings import WorkerSettings

    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TITAN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TITAN_QUANT_DAYS", "0.3")
    monkeypatch.setenv("TITAN_QUANT_SYMBOLS", "BTCUSDT,ETHUSDT")
    settings = load_settings(WorkerSettings)
    result = asyncio.run(jobs.quant_nightly(settings))
    assert result["ok"], result
    assert (tmp_path / "data" / "recorded.csv.gz").exists()
    assert '"proposed"' in result["output"]


def test_in_live_ai_quant_waits_while_the_config_was_just_changed(stack: Stack, database_url: str) -> None:
    import httpx

    from tests.integration.console.conftest import auth_of
    from titan_backtest.cli import BacktestInputError, quant_propose

    current = httpx.get(f"{stack.console}/api/console/config", timeout=30).json()["risk_tuner"]["maxLeverage"]
    changed = httpx.post(f"{stack.console}/api/console/config/risk", json={"maxLeverage": 10 if current != 10 else 11},
                         auth=auth_of("operator-1"), timeout=30)  # fmt: skip
    assert changed.json()["changed"] is True
    with pytest.raises(BacktestInputError, match="an operator may be at it"):
        quant_propose(sample=True, data=None, days=None, config=None, database_url=database_url, live=True)
