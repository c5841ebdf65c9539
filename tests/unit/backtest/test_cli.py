"""`titan backtest` and `titan data sample` as an operator runs them: the sample backtested
twice gives the same JSON and trades, bad input is a FAIL line and exit 2, and the sample
in the repository is the one the command makes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from titan_backtest.cli import SAMPLE_DIR, SAMPLE_START_MS
from titan_common.replay import read_klines
from titan_ops.cli.main import app

runner = CliRunner()


def titan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


def test_the_sample_backtested_twice_gives_the_same_json_and_it_trades(tmp_path: Path) -> None:
    # two processes, side by side: nothing one run leaves behind can make the other agree
    binary = str(Path(sys.executable).with_name("titan"))
    runs = [
        subprocess.Popen([binary, "backtest", "--sample", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for extra in (["--report", str(tmp_path / "report.html")], [])
    ]
    (first, err), (second, _) = (run.communicate(timeout=300) for run in runs)
    assert [run.returncode for run in runs] == [0, 0], err
    assert first == second  # byte for byte (the report's note goes to stderr)
    result = json.loads(second)
    assert result["trades"] > 0
    assert set(result) >= {"trades", "net_pnl", "return_pct", "max_drawdown_pct", "sharpe", "win_rate",
                           "profit_factor", "by_trap_type", "by_symbol"}  # fmt: skip
    assert sum(t["trades"] for t in result["by_symbol"].values()) == result["trades"]
    page = (tmp_path / "report.html").read_text()
    assert "equity curve" in page
    assert "drawdown" in page
    assert result["trade_list"][0]["symbol"] in page


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sample", "--data", "x.csv"], "either --sample or --data"),
        ([], "either --sample or --data"),
        (["--data", "/nonexistent/k.csv"], "no such file"),
        (["--sample", "--from", "yesterday"], "--from takes a day"),
        (["--sample", "--from", "2030-01-01"], "no klines in the period"),
        (["--sample", "--config", "/nonexistent/config.json"], "not a trading config"),
    ],
)
def test_bad_input_is_one_fail_line_and_exit_2(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 2
    assert "FAIL" in result.output
    assert says in " ".join(result.output.split())


def test_the_committed_sample_is_what_the_command_makes(tmp_path: Path) -> None:
    code, out = titan("data", "sample", "--out", str(tmp_path), "--days", "1")
    assert code == 0, out
    made = read_klines(tmp_path)
    assert made == read_klines(SAMPLE_DIR, end_ms=SAMPLE_START_MS + 86_400_000)
    assert (tmp_path / "instruments.json").read_text() == (SAMPLE_DIR / "instruments.json").read_text()
