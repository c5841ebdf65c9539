"""The trap map: where structure is likely to break, worked out before price gets there.

Each detector reads one symbol's `SymbolMarket` and returns traps: a trigger price, the
side to take when price reaches it with a burst of volume, a stop and target (reward:risk
3:1 by default), a confidence in [0, 1] and a quality score. `build_trap_map` keeps the
best `max_traps` over every symbol. A detector whose data is missing (no index price, no
funding rate, no open-interest history) returns nothing: the trap type is simply absent.

Breakout traps (LIQUIDATION, DAILY_LEVEL, BOLLINGER, FUNDING_SQUEEZE) sit ahead of price:
above it they are longs, below it shorts. Their stop is one ATR (at least `min_stop`)
behind the trigger. OI_WIPEOUT is a long on the rebound after a flush; BASIS bets on the
perpetual converging back to its index.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from titan_common.messages import Side
from titan_scavenger.core.indicators import (
    atr,
    bandwidths,
    bollinger,
    profile_peaks,
    quantile,
    swing_lows,
    volume_profile,
)
from titan_scavenger.core.market import BAR_MS, DAY_MS, SymbolMarket, tick_down, tick_up, to_tick


class TrapType(StrEnum):
    LIQUIDATION = "LIQUIDATION"  # a volume-profile peak: where positions (and their liquidations) pile up
    DAILY_LEVEL = "DAILY_LEVEL"  # the previous UTC day's high or low, with price within 2% of it
    BOLLINGER = "BOLLINGER"  # a breakout from a squeeze of the bands
    FUNDING_SQUEEZE = "FUNDING_SQUEEZE"  # shorts paying (negative funding) while price makes higher lows
    OI_WIPEOUT = "OI_WIPEOUT"  # open interest down > 20% in 5 min with a dump: a flush to rebound from
    BASIS = "BASIS"  # the perpetual far from its index


@dataclass(frozen=True)
class TrapConfig:
    max_traps: int = 20
    long_only: bool = False  # a spot venue: no short can be opened there, so no Sell trap is set
    max_distance: float = 0.03  # traps further than this from price (fraction) are not set
    proximity: float = 0.001  # half-width of a trigger's zone (fraction)
    reward_risk: float = 3.0
    atr_period: int = 14
    stop_atr: float = 1.0  # breakout stops sit this many ATRs behind the trigger...
    min_stop: float = 0.002  # ...and at least this fraction of it
    # LIQUIDATION
    profile_bars: int = 96  # 24 h of 15-min bars
    profile_bins: int = 48
    peak_min_ratio: float = 1.5  # a peak holds at least this multiple of the mean bin volume
    # DAILY_LEVEL
    daily_window: float = 0.02
    daily_min_coverage: float = 0.9  # share of the previous day's bars that must be present
    # BOLLINGER
    bb_period: int = 20
    bb_k: float = 2.0
    squeeze_lookback: int = 100
    squeeze_quantile: float = 0.2  # a squeeze: bandwidth at or below this quantile of the lookback
    # FUNDING_SQUEEZE
    funding_threshold: float = -0.0001  # the current rate must be at or below this
    swing_k: int = 2
    higher_lows: int = 3
    structure_bars: int = 48
    # OI_WIPEOUT
    oi_window_ms: int = 300_000
    oi_drop: float = 0.20
    dump: float = 0.02
    retrace: float = 0.382  # the trigger: this share of the dump retraced
    # BASIS
    basis_threshold: float = 0.005


@dataclass(frozen=True)
class Trap:
    trap_id: str
    symbol: str
    trap_type: TrapType
    side: Side
    trigger: Decimal
    stop: Decimal
    targets: tuple[Decimal, ...]
    confidence: float
    expected_move_pct: float  # percent, trigger to the last target
    quality: float
    reference_price: float  # the last price when the map was built
    tick_size: Decimal
    fixed_target: bool = False  # BASIS aims at the index; the others keep reward:risk from the actual entry
    detail: Mapping[str, float | str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def distance(self) -> float:
        """Signed distance from the build-time price to the trigger, as a fraction."""
        return (float(self.trigger) - self.reference_price) / self.reference_price


@dataclass(frozen=True)
class TrapMap:
    built_ms: int
    cycle_id: str
    traps: tuple[Trap, ...]  # best first
    symbols: int = 0


EMPTY_MAP = TrapMap(built_ms=0, cycle_id="", traps=())

Detector = Callable[[SymbolMarket, TrapConfig, int], list[Trap]]


# --- building one trap ----------------------------------------------------------------


def make_trap(
    market: SymbolMarket,
    trap_type: TrapType,
    side: Side,
    trigger: float,
    stop: float,
    target: float,
    confidence: float,
    cfg: TrapConfig,
    *,
    fixed_target: bool = False,
    detail: Mapping[str, float | str] | None = None,
) -> Trap | None:
    """Quantize to the tick grid, check the geometry, score it. None when it is not a trap."""
    tick = market.tick_size
    trigger_px = to_tick(trigger, tick)
    if side is Side.BUY:
        stop_px, target_px = tick_down(stop, tick), tick_down(target, tick)
        valid = stop_px < trigger_px < target_px
    else:
        stop_px, target_px = tick_up(stop, tick), tick_up(target, tick)
        valid = stop_px > trigger_px > target_px
    distance = abs(float(trigger_px) - market.last_price) / market.last_price
    if not valid or distance > cfg.max_distance:
        return None
    confidence = min(1.0, max(0.0, confidence))
    closeness = 1.0 - distance / cfg.max_distance
    move = abs(float(target_px) - float(trigger_px)) / float(trigger_px) * 100
    return Trap(
        trap_id=f"{market.symbol}:{trap_type.value}:{side.value}:{trigger_px}",
        symbol=market.symbol,
        trap_type=trap_type,
        side=side,
        trigger=trigger_px,
        stop=stop_px,
        targets=(target_px,),
        confidence=round(confidence, 4),
        expected_move_pct=round(move, 4),
        quality=round(confidence * closeness, 6),
        reference_price=market.last_price,
        tick_size=tick,
        fixed_target=fixed_target,
        detail=dict(detail or {}),
    )


def breakout_geometry(side: Side, trigger: float, atr_value: float, cfg: TrapConfig) -> tuple[float, float]:
    """(stop, target) of a breakout: the stop one ATR (at least min_stop) behind, the target reward:risk ahead."""
    risk = max(atr_value * cfg.stop_atr, trigger * cfg.min_stop)
    if side is Side.BUY:
        return trigger - risk, trigger + cfg.reward_risk * risk
    return trigger + risk, trigger - cfg.reward_risk * risk


def _side_of(level: float, price: float) -> Side:
    return Side.BUY if level > price else Side.SELL


# --- the detectors ----------------------------------------------------------------------


def liquidation_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """The best volume-profile peak ahead of price on each side. A node price already sits on
    gives no direction."""
    bars = market.bars[-cfg.profile_bars :]
    atr_value = atr(market.bars, cfg.atr_period)
    profile = volume_profile(bars, cfg.profile_bins) if len(bars) >= cfg.profile_bars // 2 else None
    if profile is None or atr_value is None:
        return []
    top = max(profile.volumes)
    best: dict[Side, Trap] = {}
    for index in profile_peaks(profile, cfg.peak_min_ratio):
        level = profile.centre(index)
        if abs(level - market.last_price) / market.last_price <= cfg.proximity:
            continue
        side = _side_of(level, market.last_price)
        strength = profile.volumes[index] / top
        stop, target = breakout_geometry(side, level, atr_value, cfg)
        detail = {"node_volume": round(profile.volumes[index], 6), "node_strength": round(strength, 4)}
        trap = make_trap(
            market, TrapType.LIQUIDATION, side, level, stop, target, 0.5 + 0.4 * strength, cfg, detail=detail
        )
        if trap is not None and (side not in best or trap.quality > best[side].quality):
            best[side] = trap
    # the best node on each side: more would crowd the map with one symbol's profile
    return [best[side] for side in (Side.SELL, Side.BUY) if side in best]


def daily_level_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """The previous UTC day's high (a long above) and low (a short below), within daily_window of price."""
    day_start = now_ms // DAY_MS * DAY_MS
    previous = [b for b in market.bars if day_start - DAY_MS <= b.start_ms < day_start]
    atr_value = atr(market.bars, cfg.atr_period)
    if len(previous) < cfg.daily_min_coverage * (DAY_MS // BAR_MS) or atr_value is None:
        return []
    price = market.last_price
    traps = []
    for side, level in ((Side.BUY, max(b.high for b in previous)), (Side.SELL, min(b.low for b in previous))):
        gap = (level - price) / price if side is Side.BUY else (price - level) / price
        if not 0 < gap <= cfg.daily_window:
            continue
        stop, target = breakout_geometry(side, level, atr_value, cfg)
        confidence = 0.55 + 0.25 * (1 - gap / cfg.daily_window)
        name = "previous_day_high" if side is Side.BUY else "previous_day_low"
        trap = make_trap(
            market,
            TrapType.DAILY_LEVEL,
            side,
            level,
            stop,
            target,
            confidence,
            cfg,
            detail={"level": name, "gap_pct": round(gap * 100, 4)},
        )
        if trap is not None:
            traps.append(trap)
    return traps


def bollinger_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """While the bands are squeezed: a long at the upper band and a short at the lower one."""
    closes = [b.close for b in market.bars]
    need = cfg.bb_period + cfg.squeeze_lookback
    atr_value = atr(market.bars, cfg.atr_period)
    if len(closes) < need or atr_value is None:
        return []
    widths = bandwidths(closes[-need:], cfg.bb_period, cfg.bb_k)
    current, history = widths[-1], widths[:-1]
    if current > quantile(history, cfg.squeeze_quantile):
        return []
    bands = bollinger(closes, cfg.bb_period, cfg.bb_k)
    assert bands is not None
    median = quantile(history, 0.5)
    tightness = max(0.0, min(1.0, 1 - current / median)) if median > 0 else 0.0
    detail = {"bandwidth": round(current, 6), "median_bandwidth": round(median, 6)}
    traps = []
    for side, level in ((Side.BUY, bands.upper), (Side.SELL, bands.lower)):
        if (side is Side.BUY and market.last_price >= level) or (side is Side.SELL and market.last_price <= level):
            continue
        stop, target = breakout_geometry(side, level, atr_value, cfg)
        trap = make_trap(
            market, TrapType.BOLLINGER, side, level, stop, target, 0.5 + 0.3 * tightness, cfg, detail=detail
        )
        if trap is not None:
            traps.append(trap)
    return traps


def funding_squeeze_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """Negative funding (shorts pay) with higher lows: a long at the structure high they defend."""
    rate = market.funding_rate
    if rate is None or rate > cfg.funding_threshold:
        return []
    if market.funding_history and market.funding_history[-1] >= 0:
        return []  # the last settled rate disagrees: not a crowded short
    window = market.bars[-cfg.structure_bars :]
    atr_value = atr(market.bars, cfg.atr_period)
    lows = swing_lows(window, cfg.swing_k)
    if len(lows) < cfg.higher_lows or atr_value is None:
        return []
    recent = lows[-cfg.higher_lows :]
    if not all(a[1] < b[1] for a, b in itertools.pairwise(recent)) or market.last_price <= recent[-1][1]:
        return []
    structure_high = max(b.high for b in window[recent[0][0] :])
    if market.last_price >= structure_high:
        return []
    stop, target = breakout_geometry(Side.BUY, structure_high, atr_value, cfg)
    confidence = 0.5 + min(0.4, abs(rate) / 0.001 * 0.4)
    detail: dict[str, float | str] = {
        "funding_rate": rate,
        "higher_lows": ",".join(f"{low:g}" for _, low in recent),
    }
    trap = make_trap(
        market, TrapType.FUNDING_SQUEEZE, Side.BUY, structure_high, stop, target, confidence, cfg, detail=detail
    )
    return [trap] if trap is not None else []


def oi_wipeout_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """Open interest down more than oi_drop within oi_window_ms while price dumped at least `dump`:
    a long when price retraces `retrace` of the dump."""
    start = now_ms - cfg.oi_window_ms
    oi = [value for ts, value in market.oi_samples if ts >= start]
    if len(oi) < 2 or max(oi) <= 0:
        return []
    drop = 1 - oi[-1] / max(oi)
    if drop <= cfg.oi_drop:
        return []
    prices = [price for ts, price in market.price_samples if ts >= start] + [market.last_price]
    high_at = max(range(len(prices)), key=lambda i: prices[i])
    low_at = min(range(len(prices)), key=lambda i: prices[i])
    high, low = prices[high_at], prices[low_at]
    if low_at < high_at or (high - low) / high < cfg.dump:
        return []  # no dump: price did not fall from its high to its low within the window
    trigger = low + cfg.retrace * (high - low)
    if market.last_price >= trigger:
        return []
    stop = low * (1 - cfg.min_stop)
    target = trigger + cfg.reward_risk * (trigger - stop)
    confidence = 0.6 + min(0.3, drop - cfg.oi_drop)
    detail = {"oi_drop_pct": round(drop * 100, 4), "dump_pct": round((high - low) / high * 100, 4)}
    trap = make_trap(market, TrapType.OI_WIPEOUT, Side.BUY, trigger, stop, target, confidence, cfg, detail=detail)
    return [trap] if trap is not None else []


def basis_traps(market: SymbolMarket, cfg: TrapConfig, now_ms: int) -> list[Trap]:
    """The perpetual at least basis_threshold away from its index: a trade back toward the index,
    the target at the index and the stop a third of that distance behind (3:1)."""
    index = market.index_price
    if index is None or index <= 0:
        return []
    basis = (market.last_price - index) / index
    if abs(basis) < cfg.basis_threshold:
        return []
    side = Side.BUY if basis < 0 else Side.SELL
    trigger = market.last_price
    risk = abs(index - trigger) / cfg.reward_risk
    stop = trigger - risk if side is Side.BUY else trigger + risk
    confidence = 0.5 + min(0.4, (abs(basis) - cfg.basis_threshold) * 40)
    detail = {"basis_pct": round(basis * 100, 4), "index_price": index}
    trap = make_trap(
        market, TrapType.BASIS, side, trigger, stop, index, confidence, cfg, fixed_target=True, detail=detail
    )
    return [trap] if trap is not None else []


DETECTORS: dict[TrapType, Detector] = {
    TrapType.LIQUIDATION: liquidation_traps,
    TrapType.DAILY_LEVEL: daily_level_traps,
    TrapType.BOLLINGER: bollinger_traps,
    TrapType.FUNDING_SQUEEZE: funding_squeeze_traps,
    TrapType.OI_WIPEOUT: oi_wipeout_traps,
    TrapType.BASIS: basis_traps,
}


def build_trap_map(markets: Iterable[SymbolMarket], now_ms: int, cfg: TrapConfig, cycle_id: str) -> TrapMap:
    """Every detector over every symbol; the best `max_traps` by quality are kept."""
    candidates: dict[str, Trap] = {}
    count = 0
    for market in markets:
        count += 1
        if market.last_price <= 0 or not market.bars:
            continue
        for detector in DETECTORS.values():
            for trap in detector(market, cfg, now_ms):
                if cfg.long_only and trap.side is Side.SELL:
                    continue
                kept = candidates.get(trap.trap_id)
                if kept is None or trap.quality > kept.quality:
                    candidates[trap.trap_id] = trap
    ranked = sorted(candidates.values(), key=lambda t: (-t.quality, t.trap_id))
    return TrapMap(built_ms=now_ms, cycle_id=cycle_id, traps=tuple(ranked[: cfg.max_traps]), symbols=count)
