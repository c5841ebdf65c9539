"""Each trap detector on crafted series: it fires exactly where expected and nowhere else."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.scavenger.series import DAY_START, NOW, flat_bars, market, restamp
from titan_common.messages import Side
from titan_scavenger.core.market import BAR_MS, DAY_MS, Bar
from titan_scavenger.core.traps import (
    DETECTORS,
    TrapConfig,
    TrapType,
    basis_traps,
    bollinger_traps,
    build_trap_map,
    daily_level_traps,
    funding_squeeze_traps,
    liquidation_traps,
    oi_wipeout_traps,
)

CFG = TrapConfig()


def b(close: float, spread: float = 0.1, volume: float = 10.0) -> Bar:
    return Bar(0, close, close + spread, close - spread, close, volume)


def three_to_one(trap_trigger: D, stop: D, target: D, tick: D = D("0.01")) -> bool:
    return abs((target - trap_trigger) - 3 * (trap_trigger - stop)) <= 4 * tick


# --- LIQUIDATION -------------------------------------------------------------------------


def profile_series(node_high: float = 102.05, node_low: float = 97.95) -> list[Bar]:
    background = [Bar(0, 100, 104, 96, 100, 10) for _ in range(30)]  # thin volume over 96..104
    upper = [b(node_high, 0.01, 50) for _ in range(20)]
    lower = [b(node_low, 0.01, 50) for _ in range(20)]
    middle = [b(100, 0.05, 1) for _ in range(26)]  # price lives here, on thin volume
    return restamp(background + upper + lower + middle)


def test_liquidation_traps_sit_on_the_volume_peaks_ahead_of_price() -> None:
    traps = liquidation_traps(market(profile_series()), CFG, NOW)
    assert [(t.trap_type, t.side) for t in traps] == [
        (TrapType.LIQUIDATION, Side.SELL),
        (TrapType.LIQUIDATION, Side.BUY),
    ]
    sell, buy = traps
    bin_width = 8 / 48
    assert abs(float(buy.trigger) - 102.05) < bin_width
    assert abs(float(sell.trigger) - 97.95) < bin_width
    assert buy.stop < buy.trigger < buy.targets[0]
    assert sell.stop > sell.trigger > sell.targets[0]
    assert three_to_one(buy.trigger, buy.stop, buy.targets[0])
    assert three_to_one(sell.trigger, sell.stop, sell.targets[0])
    assert 0.5 < buy.confidence <= 0.9


def test_liquidation_keeps_the_best_node_per_side() -> None:
    bars = profile_series()
    extra = restamp([*bars[:-10], *[b(101.05, 0.01, 30) for _ in range(10)]])  # a weaker, nearer node above
    traps = liquidation_traps(market(extra), CFG, NOW)
    assert [t.side for t in traps] == [Side.SELL, Side.BUY]


def test_liquidation_no_peak_no_trap() -> None:
    uniform = restamp([Bar(0, 100, 104, 96, 100, 10) for _ in range(96)])
    assert liquidation_traps(market(uniform), CFG, NOW) == []


def test_liquidation_peak_beyond_max_distance_is_not_set() -> None:
    traps = liquidation_traps(market(profile_series(node_high=103.5)), CFG, NOW)
    assert [t.side for t in traps] == [Side.SELL]  # the 3.5% node is too far


def test_liquidation_node_under_price_gives_no_direction() -> None:
    traps = liquidation_traps(market(profile_series(), last_price=102.05), CFG, NOW)
    assert all(abs(float(t.trigger) - 102.05) > 0.1 for t in traps)


# --- DAILY_LEVEL ---------------------------------------------------------------------------


def daily_series(prev_high: float, prev_low: float, *, today_high: float = 100.1) -> list[Bar]:
    bars = flat_bars(200)
    out = []
    for bar in bars:
        high, low = bar.high, bar.low
        if bar.start_ms == DAY_START - DAY_MS + 10 * BAR_MS:
            high = prev_high
        if bar.start_ms == DAY_START - DAY_MS + 50 * BAR_MS:
            low = prev_low
        if bar.start_ms == DAY_START - 2 * DAY_MS + 90 * BAR_MS:
            high = 101.2  # two days back: not the previous day
        if bar.start_ms == DAY_START + 4 * BAR_MS:
            high = today_high
        out.append(Bar(bar.start_ms, bar.open, high, low, bar.close, bar.volume))
    return out


def test_daily_levels_within_two_percent() -> None:
    traps = daily_level_traps(market(daily_series(101.5, 98.6)), CFG, NOW)
    assert [(t.side, t.trigger) for t in traps] == [(Side.BUY, D("101.50")), (Side.SELL, D("98.60"))]
    buy = traps[0]
    assert buy.detail["level"] == "previous_day_high"
    assert three_to_one(buy.trigger, buy.stop, buy.targets[0])


def test_daily_level_further_than_two_percent_is_absent() -> None:
    traps = daily_level_traps(market(daily_series(102.5, 96.0)), CFG, NOW)
    assert traps == []


def test_daily_level_already_broken_is_absent() -> None:
    traps = daily_level_traps(market(daily_series(101.5, 98.6), last_price=101.7), CFG, NOW)
    assert [t.side for t in traps] == []  # above the high (no long), low 3.1% away (no short)


def test_today_and_older_days_do_not_count() -> None:
    traps = daily_level_traps(market(daily_series(100.1, 99.9, today_high=101.0)), CFG, NOW)
    assert [(t.side, t.trigger) for t in traps] == [(Side.BUY, D("100.10")), (Side.SELL, D("99.90"))]


def test_daily_level_needs_the_previous_day() -> None:
    short = [bar for bar in daily_series(101.5, 98.6) if bar.start_ms >= DAY_START - DAY_MS // 2]
    assert daily_level_traps(market(short), CFG, NOW) == []


# --- BOLLINGER -----------------------------------------------------------------------------


def squeeze_series(volatile_first: bool = True) -> list[Bar]:
    wide = [b(98 if i % 2 else 102, 0.05) for i in range(100)]
    tight = [b(99.9 if i % 2 else 100.1, 0.05) for i in range(20)]
    return restamp(wide + tight if volatile_first else tight * 5 + wide[:20])


def test_bollinger_squeeze_sets_both_band_traps() -> None:
    bars = squeeze_series()
    traps = bollinger_traps(market(bars, last_price=bars[-1].close), CFG, NOW)
    assert [(t.side, t.trigger) for t in traps] == [(Side.BUY, D("100.20")), (Side.SELL, D("99.80"))]
    assert all(three_to_one(t.trigger, t.stop, t.targets[0]) for t in traps)


def test_bollinger_without_a_squeeze_is_absent() -> None:
    bars = squeeze_series(volatile_first=False)
    assert bollinger_traps(market(bars, last_price=bars[-1].close), CFG, NOW) == []


def test_bollinger_needs_history() -> None:
    bars = squeeze_series()[-60:]
    assert bollinger_traps(market(bars, last_price=100.1), CFG, NOW) == []


# --- FUNDING_SQUEEZE -----------------------------------------------------------------------

HIGHER_LOWS = [100.5, 100, 99, 100, 100.5, 101, 101.5, 101, 100.5, 99.5, 100.5, 101.2, 101.8, 101.2, 100.4, 100,
               100.6, 101.0, 101.3]  # fmt: skip


def funding_series(closes: list[float] = HIGHER_LOWS) -> list[Bar]:
    return restamp([b(100) for _ in range(30)] + [b(c) for c in closes])


def test_funding_squeeze_long_at_the_structure_high() -> None:
    traps = funding_squeeze_traps(market(funding_series(), last_price=101.3, funding_rate=-0.0005), CFG, NOW)
    assert [(t.trap_type, t.side, t.trigger) for t in traps] == [(TrapType.FUNDING_SQUEEZE, Side.BUY, D("101.90"))]
    assert traps[0].confidence == 0.7
    assert traps[0].detail["higher_lows"] == "98.9,99.4,99.9"


def test_funding_squeeze_needs_negative_funding() -> None:
    series = funding_series()
    assert funding_squeeze_traps(market(series, last_price=101.3, funding_rate=0.0001), CFG, NOW) == []
    assert funding_squeeze_traps(market(series, last_price=101.3, funding_rate=-0.00005), CFG, NOW) == []
    assert funding_squeeze_traps(market(series, last_price=101.3), CFG, NOW) == []  # no data: absent
    settled_positive = market(series, last_price=101.3, funding_rate=-0.0005, funding_history=(0.0001,))
    assert funding_squeeze_traps(settled_positive, CFG, NOW) == []


def test_funding_squeeze_needs_higher_lows() -> None:
    bars = funding_series(list(reversed(HIGHER_LOWS)))  # the same swings in reverse: lower lows
    assert funding_squeeze_traps(market(bars, last_price=100.5, funding_rate=-0.0005), CFG, NOW) == []


# --- OI_WIPEOUT ----------------------------------------------------------------------------


def wipeout(oi: list[float], prices: list[float], last: float, ages_ms: tuple[int, ...] = (240_000, 120_000, 10_000)):
    return market(
        flat_bars(20, last),
        last_price=last,
        oi_samples=tuple((NOW - age, value) for age, value in zip(ages_ms, oi, strict=True)),
        price_samples=tuple((NOW - age, value) for age, value in zip(ages_ms, prices, strict=True)),
    )


def test_oi_wipeout_long_on_the_retrace() -> None:
    traps = oi_wipeout_traps(wipeout([1000, 900, 750], [100, 99, 97], 97.2), CFG, NOW)
    assert [(t.trap_type, t.side, t.trigger) for t in traps] == [(TrapType.OI_WIPEOUT, Side.BUY, D("98.15"))]
    trap = traps[0]
    assert trap.stop == D("96.80")
    assert trap.detail["oi_drop_pct"] == 25.0


def test_oi_wipeout_needs_the_drop_the_dump_and_the_window() -> None:
    assert oi_wipeout_traps(wipeout([1000, 900, 850], [100, 99, 97], 97.2), CFG, NOW) == []  # 15% only
    assert oi_wipeout_traps(wipeout([1000, 900, 750], [100, 101, 103], 103), CFG, NOW) == []  # price rose
    assert oi_wipeout_traps(wipeout([1000, 900, 750], [100, 99.5, 99], 99), CFG, NOW) == []  # 1% dip, no dump
    old = wipeout([1000, 900, 750], [100, 99, 97], 97.2, ages_ms=(900_000, 600_000, 10_000))
    assert oi_wipeout_traps(old, CFG, NOW) == []  # the drop is older than 5 min
    assert oi_wipeout_traps(market(flat_bars(20), last_price=100), CFG, NOW) == []  # no data: absent


# --- BASIS ---------------------------------------------------------------------------------


def test_basis_discount_is_a_long_to_the_index() -> None:
    traps = basis_traps(market(flat_bars(20, 99.2), last_price=99.2, index_price=100.0), CFG, NOW)
    assert [(t.trap_type, t.side, t.trigger, t.targets) for t in traps] == [
        (TrapType.BASIS, Side.BUY, D("99.20"), (D("100.00"),))
    ]
    assert traps[0].stop == D("98.93")
    assert traps[0].fixed_target


def test_basis_small_or_unknown_is_absent() -> None:
    assert basis_traps(market(flat_bars(20, 99.7), last_price=99.7, index_price=100.0), CFG, NOW) == []
    assert basis_traps(market(flat_bars(20, 99.2), last_price=99.2), CFG, NOW) == []


# --- the map -------------------------------------------------------------------------------


def test_a_quiet_flat_market_has_only_its_daily_levels() -> None:
    quiet = market(flat_bars(200), index_price=100.0, funding_rate=0.0001)
    found = {trap_type: detector(quiet, CFG, NOW) for trap_type, detector in DETECTORS.items()}
    assert {k for k, v in found.items() if v} == {TrapType.DAILY_LEVEL}
    assert [(t.side, t.trigger) for t in found[TrapType.DAILY_LEVEL]] == [
        (Side.BUY, D("100.10")),
        (Side.SELL, D("99.90")),
    ]


def test_map_keeps_the_best_by_quality() -> None:
    markets = [market(profile_series()), market(daily_series(101.5, 98.6))]
    built = build_trap_map(markets, NOW, TrapConfig(max_traps=3), cycle_id="trapmap:1")
    assert len(built.traps) == 3
    qualities = [t.quality for t in built.traps]
    assert qualities == sorted(qualities, reverse=True)
    everything = build_trap_map(markets, NOW, CFG, cycle_id="trapmap:1")
    assert set(built.traps) <= set(everything.traps)
    assert built.symbols == 2
    assert built.cycle_id == "trapmap:1"


def test_a_spot_venues_map_holds_no_sell_trap() -> None:
    """On a spot venue no short can be opened: its scavenger sets only Buy traps (the brain's
    VENUE_NO_SHORT veto stays the rule; this keeps the map from filling with doomed signals)."""
    quiet = [market(flat_bars(200), index_price=100.0, funding_rate=0.0001)]
    both = build_trap_map(quiet, NOW, CFG, cycle_id="trapmap:1")
    assert {t.side for t in both.traps} == {Side.BUY, Side.SELL}
    spot = build_trap_map(quiet, NOW, TrapConfig(long_only=True), cycle_id="trapmap:1")
    assert [t.side for t in spot.traps] == [Side.BUY]
