"""From a sprung trap to the `Signal` the brain reads (pure: ids and time are passed in)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from titan_common.messages import Correlation, Side, Signal
from titan_scavenger.core.market import tick_down, tick_up, to_tick
from titan_scavenger.core.sprung import Sprung

SOURCE = "scavenger"


@dataclass(frozen=True)
class SignalConfig:
    ttl_ms: int = 5_000
    entry_zone: float = 0.001  # the entry zone is the fill price +- this fraction
    reward_risk: float = 3.0
    leverage_risk: float = 0.10  # leverage hint: this fraction over the stop distance (1% stop -> 10x)
    max_leverage_hint: int = 20
    exchange: str = "bybit"  # the venue whose market sprang the trap: the signal names it


def leverage_hint(stop_fraction: float, cfg: SignalConfig) -> int:
    if stop_fraction <= 0:
        return 1
    return max(1, min(cfg.max_leverage_hint, int(cfg.leverage_risk / stop_fraction)))


def signal_for(
    sprung: Sprung, *, signal_id: str, ts_ms: int, run_id: str, cycle_id: str, cfg: SignalConfig
) -> Signal | None:
    """The signal for a sprung trap, or None when price has run so far that the trap's stop or
    target is no longer on the right side of the entry zone."""
    trap = sprung.trap
    tick = trap.tick_size
    entry = to_tick(sprung.price, tick)
    entry_low = min(entry, tick_down(entry * (1 - Decimal(repr(cfg.entry_zone))), tick))
    entry_high = max(entry, tick_up(entry * (1 + Decimal(repr(cfg.entry_zone))), tick))
    stop = trap.stop
    risk = abs(entry - stop)
    if trap.fixed_target:
        target = trap.targets[-1]
    elif trap.side is Side.BUY:
        target = tick_down(entry + risk * Decimal(repr(cfg.reward_risk)), tick)
    else:
        target = tick_up(entry - risk * Decimal(repr(cfg.reward_risk)), tick)
    if trap.side is Side.BUY:
        valid = stop < entry_low and target > entry_high
    else:
        valid = stop > entry_high and target < entry_low
    if not valid:
        return None
    # a fraction of entry, like every *_pct on the bus (0.016 = 1.6%); the trap map shows percent
    move_fraction = (abs(target - entry) / entry).quantize(Decimal("0.000001"))
    return Signal(
        signal_id=signal_id,
        ts_ms=ts_ms,
        correlation=Correlation(run_id=run_id, cycle_id=cycle_id, signal_id=signal_id),
        source=SOURCE,
        exchange=cfg.exchange,
        symbol=trap.symbol,
        side=trap.side,
        trap_type=trap.trap_type.value,
        entry_price=entry,
        entry_low=entry_low,
        entry_high=entry_high,
        stop_loss=stop,
        take_profits=(target,),
        confidence=Decimal(f"{trap.confidence:.4f}"),
        leverage_hint=leverage_hint(float(risk / entry), cfg),
        expected_move_pct=move_fraction,
        ttl_ms=cfg.ttl_ms,
    )
