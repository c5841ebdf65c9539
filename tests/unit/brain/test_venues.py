"""The brain's venue rules: a spot venue is long-only, at leverage 1, paid in full; a venue
the config gives no share takes no entries; positions are one per symbol on each venue."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.brain.builders import instrument, market, portfolio, position, signal
from titan_brain.core.evaluate import evaluate, evaluate_detailed
from titan_brain.core.sizing import Limit
from titan_common.config import TradingConfig
from titan_common.messages import Side, Verdict
from titan_common.reasons import ReasonCode

CONFIG = TradingConfig()
SPOT = market(spot_venues=frozenset({"mexc"}))
FUNDED = {"mexc": D("10000")}


def test_a_short_on_a_spot_venue_is_vetoed_with_venue_no_short() -> None:
    short = signal(side=Side.SELL, stop="102", targets=("94",), exchange="mexc")
    decision = evaluate(short, portfolio(spendable=FUNDED), CONFIG, SPOT)
    assert decision.verdict is Verdict.VETO
    assert decision.reasons == (ReasonCode.VENUE_NO_SHORT,)
    assert decision.exchange == "mexc"
    # the same short on a derivatives venue passes
    assert (
        evaluate(short.model_copy(update={"exchange": "bybit"}), portfolio(), CONFIG, SPOT).verdict is Verdict.APPROVE
    )


def test_a_spot_buy_is_at_leverage_one_and_within_the_venue_balance() -> None:
    # 200 at risk over a 2.2079 unit loss is 9,058 of notional: more than 5,000 of balance
    evaluation = evaluate_detailed(signal(exchange="mexc"), portfolio(spendable={"mexc": D(5000)}), CONFIG, SPOT)
    decision = evaluation.decision
    assert decision.verdict is Verdict.APPROVE
    assert decision.exchange == "mexc"
    assert decision.leverage == 1
    assert evaluation.sizing is not None
    assert evaluation.sizing.binding is Limit.BALANCE
    # the buy, its taker fee and its slippage allowance fit the balance
    assert decision.qty * 100 * (1 + CONFIG.taker_fee_rate + CONFIG.slippage_allowance) <= 5000


def test_a_spot_buy_is_not_sized_before_the_venue_reported_its_balance() -> None:
    decision = evaluate(signal(exchange="mexc"), portfolio(), CONFIG, SPOT)
    assert decision.reasons == (ReasonCode.EQUITY_UNKNOWN,)


def test_a_spot_venue_with_no_money_left_gives_size_zero() -> None:
    decision = evaluate(signal(exchange="mexc"), portfolio(spendable={"mexc": D(1)}), CONFIG, SPOT)
    assert decision.reasons == (ReasonCode.SIZE_ZERO,)


def test_a_venue_the_config_gives_no_share_takes_no_entries() -> None:
    config = CONFIG.model_copy(update={"venue_shares": {"bybit": D(1), "mexc": D(0)}})
    decision = evaluate(signal(exchange="mexc"), portfolio(spendable=FUNDED), config, SPOT)
    assert decision.reasons == (ReasonCode.VENUE_NOT_ENABLED,)
    unknown = evaluate(signal(exchange="kraken"), portfolio(), CONFIG, market())
    assert unknown.reasons == (ReasonCode.VENUE_NOT_ENABLED,)
    # a venue the config shares but this installation does not run (TITAN_VENUES=bybit)
    not_running = evaluate(
        signal(exchange="mexc"),
        portfolio(spendable=FUNDED),
        CONFIG,
        market(spot_venues=frozenset({"mexc"}), running_venues=frozenset({"bybit"})),
    )
    assert not_running.reasons == (ReasonCode.VENUE_NOT_ENABLED,)


def test_a_venue_share_scales_the_allocation_cap() -> None:
    # 1% of the allocation at 20x is 2,000 of notional, below the 9,058 the risk allows
    small = CONFIG.model_copy(update={"venue_shares": {"bybit": D("0.01")}})
    full = evaluate_detailed(signal(), portfolio(), CONFIG, market())
    reduced = evaluate_detailed(signal(), portfolio(), small, market())
    assert full.sizing is not None
    assert reduced.sizing is not None
    assert reduced.sizing.caps[Limit.ALLOCATION] == full.sizing.caps[Limit.ALLOCATION] / 100
    assert reduced.sizing.binding is Limit.ALLOCATION
    assert reduced.decision.qty * 100 <= 2000 < full.decision.qty * 100


def test_one_position_per_symbol_on_each_venue() -> None:
    held_on_bybit = portfolio(positions=(position("BTCUSDT"),), spendable=FUNDED)
    on_mexc = evaluate(signal(exchange="mexc"), held_on_bybit, CONFIG, SPOT)
    assert on_mexc.verdict is Verdict.APPROVE
    again_on_bybit = evaluate(signal(), held_on_bybit, CONFIG, SPOT)
    assert again_on_bybit.reasons == (ReasonCode.DUPLICATE_POSITION,)
    held_on_mexc = portfolio(positions=(position("BTCUSDT", exchange="mexc"),), spendable=FUNDED)
    assert evaluate(signal(exchange="mexc"), held_on_mexc, CONFIG, SPOT).reasons == (ReasonCode.DUPLICATE_POSITION,)


def test_each_venue_uses_its_own_rules() -> None:
    mkt = market(
        spot_venues=frozenset({"mexc"}),
        instruments={"BTCUSDT": instrument(min_notional="5")},
        venue_instruments={"mexc": {"BTCUSDT": instrument(min_notional="50000")}},
    )
    assert evaluate(signal(), portfolio(), CONFIG, mkt).verdict is Verdict.APPROVE
    spot = evaluate(signal(exchange="mexc"), portfolio(spendable=FUNDED), CONFIG, mkt)
    assert spot.reasons == (ReasonCode.SIZE_ZERO,)
