"""Property tests over random portfolios, configs, markets and signals.

The caps are recomputed here from the config, not taken from the sizing code, so a bug
in a cap cannot hide behind the same bug in its check.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.unit.brain.builders import NOW
from titan_brain.core.evaluate import evaluate
from titan_brain.core.phases import allocation_weight
from titan_brain.core.types import Instrument, Market, OpenPosition, Portfolio, pair
from titan_common.config import DEFAULT_PHASES, PhaseConfig, RiskTuner, TradingConfig
from titan_common.messages import Correlation, Side, Signal, Verdict
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "PEPEUSDT")


def money(low: str, high: str, places: int = 2) -> st.SearchStrategy[D]:
    return st.decimals(min_value=D(low), max_value=D(high), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def configs(draw: st.DrawFn) -> TradingConfig:
    tuner = RiskTuner(
        max_risk_per_trade=draw(money("0.01", "0.05", 3)),
        max_daily_drawdown=draw(money("0.03", "0.10", 3)),
        max_leverage=draw(st.integers(5, 50)),
    )
    phases = []
    for phase in DEFAULT_PHASES:
        risk = draw(money(str(phase.risk_pct_min), str(phase.risk_pct_max), 4))
        phases.append(
            phase.model_copy(
                update={
                    "risk_pct": risk,
                    "max_leverage": draw(st.integers(1, 50)),
                    "allocation_weight": draw(money("0.05", "1", 2)),
                }
            )
        )
    return TradingConfig(
        risk_tuner=tuner,
        phases=(PhaseConfig.model_validate(phases[0].model_dump()), phases[1], phases[2]),
        max_open_positions=draw(st.integers(2, 8)),
        max_position_pct=draw(money("0.05", "1", 2)),
        taker_fee_rate=draw(money("0", "0.001", 5)),
        slippage_allowance=draw(money("0", "0.002", 5)),
        max_cost_share=draw(money("0.05", "1", 2)),
    )


@st.composite
def positions(draw: st.DrawFn, equity: D) -> tuple[OpenPosition, ...]:
    chosen = draw(st.lists(st.sampled_from(SYMBOLS), max_size=3, unique=True))
    out = []
    for symbol in chosen:
        price = draw(money("0.01", "60000"))
        notional = equity * draw(money("0", "12", 3))
        size = (notional / price).quantize(D("0.000001"))
        if size <= 0:
            continue
        out.append(
            OpenPosition(
                symbol=symbol,
                side=draw(st.sampled_from(Side)),
                size=size,
                entry_price=price,
                mark_price=draw(st.none() | st.just(price * draw(money("0.8", "1.2", 3)))),
                pending=draw(st.booleans()),
            )
        )
    return tuple(out)


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    side = draw(st.sampled_from(Side))
    entry = draw(money("0.01", "100000", 4))
    distance = entry * draw(money("0.0005", "0.5", 4))
    stop = entry - distance if side is Side.BUY else entry + distance
    if stop <= 0:
        stop = entry / 2
    move = draw(money("0.001", "0.2", 4))
    target = entry * (1 + move) if side is Side.BUY else entry * (1 - move)
    return Signal(
        signal_id=draw(st.uuids()).hex,
        ts_ms=NOW - draw(st.integers(0, 20_000)),
        correlation=Correlation(run_id="prop"),
        source="scavenger",
        symbol=draw(st.sampled_from(("BTCUSDT",) * 6 + SYMBOLS)),
        side=side,
        trap_type="LIQUIDATION",
        entry_price=entry,
        entry_low=entry,
        entry_high=entry,
        stop_loss=stop,
        take_profits=(target,) if target > 0 else (),
        confidence=D("0.7"),
        expected_move_pct=draw(st.none() | money("0", "0.2", 4)),
        ttl_ms=30_000,
    )


@st.composite
def markets(draw: st.DrawFn) -> Market:
    instruments = {}
    for symbol in draw(st.lists(st.sampled_from(SYMBOLS), unique=True)):
        step = draw(st.sampled_from([D("0.001"), D("0.01"), D("1"), D("0.000001")]))
        instruments[symbol] = Instrument(
            symbol=symbol,
            min_notional=draw(money("0", "20")),
            qty_step=step,
            min_qty=step,
            max_leverage=draw(st.integers(1, 100)),
        )
    correlations = {
        pair(a, b): draw(st.floats(-1, 1))
        for a, b in draw(st.lists(st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(SYMBOLS)), max_size=6))
        if a != b
    }
    return Market(now_ms=NOW, instruments=instruments, correlations=correlations)


@st.composite
def scenarios(draw: st.DrawFn, **forced: Any) -> tuple[Signal, Portfolio, TradingConfig, Market]:
    config = draw(configs())
    equity = draw(money("50", "2000000"))
    book = Portfolio(
        equity=equity,
        day_start_equity=equity * draw(money("0.95", "1.1", 3)),
        positions=draw(positions(equity)),
        phase=draw(st.integers(1, 3)),
        performance_modifier=draw(st.sampled_from([D("0.5"), D(1), D("1.2")])),
        system_mode=forced.get("mode", draw(st.sampled_from([Mode.NORMAL] * 3 + [Mode.DEGRADE, Mode.PAUSE]))),
        master_armed=forced.get("armed", draw(st.booleans() | st.just(True))),
        breaker_active=forced.get("breaker", draw(st.booleans() | st.just(False))),
    )
    return draw(signals()), book, config, draw(markets())


PROPERTY_SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scenarios(mode=Mode.NORMAL, armed=True, breaker=False))
def test_approvals_respect_every_cap(scenario: tuple[Signal, Portfolio, TradingConfig, Market]) -> None:
    signal, book, config, market = scenario
    decision = evaluate(signal, book, config, market)
    event(f"{decision.verdict} {' '.join(decision.reasons)}")
    if decision.verdict is Verdict.VETO:
        assert len(decision.reasons) == 1  # switches are all on here: one deciding rule
        assert decision.qty == 0
        return
    equity = book.equity
    assert equity is not None
    phase = config.phase(book.phase)
    instrument = market.instruments.get(signal.symbol)
    account_leverage = min(phase.max_leverage, config.risk_tuner.max_leverage)
    position_leverage = min(account_leverage, instrument.max_leverage) if instrument else account_leverage
    allocation = allocation_weight(equity, config)
    notional = decision.qty * signal.entry_price
    risk_pct = min(phase.risk_pct * book.performance_modifier, phase.risk_pct_max, config.risk_tuner.max_risk_per_trade)

    # qty never exceeds any cap
    assert decision.qty > 0
    assert notional <= allocation * equity * position_leverage
    assert notional <= config.max_position_pct * equity * position_leverage
    assert book.open_notional + notional <= account_leverage * equity
    assert notional >= (instrument.min_notional if instrument else market.default_min_notional)
    if instrument is not None:
        assert decision.qty % instrument.qty_step == 0
    # leverage within the phase maximum (and the operator's), and enough for the margin cap
    assert 1 <= decision.leverage <= phase.max_leverage
    assert decision.leverage <= config.risk_tuner.max_leverage
    assert notional / decision.leverage <= min(allocation, config.max_position_pct) * equity
    # risk within equity x risk %, and so is the loss at the stop with fees and slippage on
    # the entry and on the exit
    entry, stop = signal.entry_price, signal.stop_loss
    distance = abs(entry - stop)
    fees = config.taker_fee_rate * (entry + stop)
    costs = fees + config.slippage_allowance * (entry + stop)
    assert decision.risk_usd == decision.qty * distance
    assert decision.expected_fees_usd == decision.qty * fees
    assert decision.risk_with_costs_usd == decision.qty * (distance + costs)
    assert decision.risk_with_costs_usd <= equity * risk_pct
    assert decision.risk_with_costs_usd <= equity * config.risk_tuner.max_risk_per_trade
    # costs are at most max_cost_share of that loss
    assert costs <= config.max_cost_share * (distance + costs)
    # and nothing approved that an earlier rule forbids
    assert signal.symbol in config.asset_whitelist
    assert book.position(signal.symbol) is None
    assert len(book.positions) < config.max_open_positions
    if decision.reasons:
        assert decision.reasons == (ReasonCode.CORRELATION_REDUCED,)


@PROPERTY_SETTINGS
@given(scenarios(armed=False))
def test_no_approval_while_disarmed(scenario: tuple[Signal, Portfolio, TradingConfig, Market]) -> None:
    decision = evaluate(*scenario)
    assert decision.verdict is Verdict.VETO
    assert ReasonCode.MASTER_DISARMED in decision.reasons


@PROPERTY_SETTINGS
@given(scenarios(breaker=True))
def test_no_approval_while_the_breaker_is_active(scenario: tuple[Signal, Portfolio, TradingConfig, Market]) -> None:
    decision = evaluate(*scenario)
    assert decision.verdict is Verdict.VETO
    assert ReasonCode.BREAKER_ACTIVE in decision.reasons


@PROPERTY_SETTINGS
@given(st.sampled_from([Mode.DEGRADE, Mode.PAUSE, Mode.EXIT]).flatmap(lambda mode: scenarios(mode=mode)))
def test_no_approval_outside_normal(scenario: tuple[Signal, Portfolio, TradingConfig, Market]) -> None:
    decision = evaluate(*scenario)
    assert decision.verdict is Verdict.VETO
    assert decision.reasons[0] is ReasonCode.MODE_NOT_NORMAL
