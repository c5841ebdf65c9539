"""The backtest in one process: deterministic, and blind to the future (a test changes
every bar after a decision, so that its trade ends differently, and the decisions up to
that point stay exactly the same)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D

from titan_backtest.engine import Backtest, BacktestOptions, BacktestRun
from titan_backtest.report import summarise
from titan_common.config import TradingConfig
from titan_common.exchanges.types import InstrumentFilters
from titan_common.messages import Verdict
from titan_common.replay import MINUTE_MS, RecordedKline
from titan_sim.core.history import minute_history
from titan_sim.core.instruments import instrument_for

START = 1_767_225_600_000  # 2026-01-01
SYMBOLS = ("SOLUSDT", "XRPUSDT")
MINUTES = 30 * 60  # traps need about a day of 15-minute bars behind them


def market() -> tuple[list[RecordedKline], dict[str, InstrumentFilters]]:
    klines: list[RecordedKline] = []
    filters = {}
    for symbol in SYMBOLS:
        spec = instrument_for(symbol, 42)
        klines += minute_history(spec, 42, START, MINUTES)
        filters[symbol] = InstrumentFilters(symbol, spec.tick_size, spec.qty_step, spec.min_qty, spec.max_qty,
                                            spec.min_notional, max_leverage=int(spec.max_leverage))  # fmt: skip
    return sorted(klines, key=lambda k: (k.start_ms, k.symbol)), filters


def run(klines: list[RecordedKline], filters: dict[str, InstrumentFilters]) -> BacktestRun:
    return Backtest(TradingConfig(), filters).run(klines)


def decided(result: BacktestRun, before_ms: int) -> list[dict[str, object]]:
    return [d.as_dict() for d in result.decisions if d.signal.ts_ms < before_ms]


def test_the_same_klines_give_the_same_result_byte_for_byte() -> None:
    klines, filters = market()
    first, second = run(klines, filters), run(klines, filters)
    assert first.trades, "the market should trade: otherwise this proves little"
    one = json.dumps(summarise(first, BacktestOptions(), data="t", config_tag="default"), sort_keys=True)
    two = json.dumps(summarise(second, BacktestOptions(), data="t", config_tag="default"), sort_keys=True)
    assert one == two


def crashed(kline: RecordedKline) -> RecordedKline:
    """The bar halved: a future that stops out any long and pays any short."""
    half = D("0.5")
    return replace(kline, open=kline.open * half, high=kline.high * half, low=kline.low * half,
                   close=kline.close * half)  # fmt: skip


def test_no_decision_reads_a_bar_after_its_own() -> None:
    klines, filters = market()
    baseline = run(klines, filters)
    approved = [d for d in baseline.decisions if d.verdict is Verdict.APPROVE]
    assert approved, "the market should approve a signal"
    first = approved[0]
    cut = first.signal.ts_ms - first.signal.ts_ms % MINUTE_MS + MINUTE_MS  # the minute after the decision's
    changed = [crashed(k) if k.start_ms >= cut else k for k in klines]
    rerun = run(changed, filters)
    # the future was different enough to matter: the first entry's exit is not the same...
    before = next(t for t in baseline.trades if t.signal_id == first.signal.signal_id)
    after = next(t for t in rerun.trades if t.signal_id == first.signal.signal_id)
    assert (after.exit_price, after.exit_ms) != (before.exit_price, before.exit_ms)
    # ...and nothing decided before the cut saw it
    assert decided(rerun, cut) == decided(baseline, cut)
    # without any future at all, the same again
    assert decided(run([k for k in klines if k.start_ms < cut], filters), cut) == decided(baseline, cut)


def test_a_recording_of_trades_is_backtested_on_its_own_trades() -> None:
    from titan_common.replay import ReplayTape, klines_of

    klines, filters = market()
    tape = ReplayTape()
    trades = sorted((t for k in klines for t in tape.trades(k)), key=lambda t: (t.ts_ms, t.symbol))
    bars = klines_of(trades)
    first = Backtest(TradingConfig(), filters).run(bars, None, trades)
    again = Backtest(TradingConfig(), filters).run(bars, None, trades)
    assert [d.as_dict() for d in first.decisions] == [d.as_dict() for d in again.decisions]
    assert first.decisions, "the walk's bursts should spring traps"
    recorded = {(t.symbol, t.ts_ms) for t in trades}
    assert all((d.signal.symbol, d.signal.ts_ms) in recorded for d in first.decisions)
