"""The TRAP_SPRUNG rule: proximity (0.1%), a volume burst (>= 50 trades in 100 ms), direction, cooldown."""

from __future__ import annotations

from decimal import Decimal as D

from titan_common.messages import Side
from titan_scavenger.core.sprung import SprungConfig, TrapBook
from titan_scavenger.core.traps import Trap, TrapType

T0 = 1_700_000_000_000
MINUTE = 60_000


def trap(trigger: str = "100", side: Side = Side.BUY, quality: float = 0.5, symbol: str = "BTCUSDT") -> Trap:
    level = D(trigger)
    risk = level * D("0.005")
    stop = level - risk if side is Side.BUY else level + risk
    target = level + 3 * risk if side is Side.BUY else level - 3 * risk
    return Trap(
        trap_id=f"{symbol}:LIQUIDATION:{side.value}:{level}",
        symbol=symbol,
        trap_type=TrapType.LIQUIDATION,
        side=side,
        trigger=level,
        stop=stop,
        targets=(target,),
        confidence=0.7,
        expected_move_pct=1.5,
        quality=quality,
        reference_price=99.0,
        tick_size=D("0.01"),
    )


def book(*traps: Trap) -> TrapBook:
    b = TrapBook(SprungConfig())
    b.set_traps(traps, T0)
    return b


def burst(
    b: TrapBook, prices: list[float], *, start: int = T0, span_ms: int = 90, buy: bool = True, armed: bool = True
):
    """Trades at `prices`, spread evenly over span_ms; returns every Sprung seen."""
    out = []
    for i, price in enumerate(prices):
        ts = start + (span_ms * i) // max(1, len(prices) - 1)
        result = b.on_trade("BTCUSDT", ts, buy, price, armed)
        if result is not None:
            out.append(result)
    return out


def through(n: int, low: float = 99.5, high: float = 100.5) -> list[float]:
    """n trades climbing evenly from low to high (through 100)."""
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def test_volume_validation_rejects_49_and_accepts_50() -> None:
    assert burst(book(trap()), through(49)) == []
    fired = burst(book(trap()), through(50))
    assert len(fired) == 1
    assert fired[0].trades_in_window == 50
    assert fired[0].trap.trap_id == "BTCUSDT:LIQUIDATION:Buy:100"


def test_the_window_is_100_ms() -> None:
    # 50 trades over exactly 100 ms: the first is 100 ms old when the last lands, so only 49 count
    assert burst(book(trap()), through(50), span_ms=100) == []
    assert len(burst(book(trap()), through(50), span_ms=99)) == 1
    # 50 trades in a burst that is not near the trap first, then price walks slowly to it
    b = book(trap())
    assert burst(b, [99.0] * 60) == []
    assert [b.on_trade("BTCUSDT", T0 + 500 + i, True, 100.0) for i in range(3)] == [None, None, None]


def test_proximity_is_one_tenth_of_a_percent() -> None:
    # the burst stalls 0.11% under the trigger: no touch
    assert burst(book(trap()), through(60, 99.5, 99.89)) == []
    # it reaches 0.09% under: a touch, and price is inside the zone
    assert len(burst(book(trap()), through(60, 99.5, 99.91))) == 1


def test_a_jump_over_the_zone_counts_as_reaching_it() -> None:
    prices = [99.0] * 30 + [101.0] * 30  # no trade within 0.1% of 100, but price went through it
    assert len(burst(book(trap()), prices)) == 1


def test_a_touch_older_than_the_window_does_not_count() -> None:
    b = book(trap())
    b.on_trade("BTCUSDT", T0, True, 100.0)  # touched, alone
    b.on_trade("BTCUSDT", T0 + 1, True, 100.5)
    # a burst 1 s later, beyond the zone, never near the trigger again
    assert burst(b, [100.5] * 60, start=T0 + 1000) == []


def test_direction_must_agree() -> None:
    # sellers dominate a move up through a long trap: no
    assert burst(book(trap()), through(60), buy=False) == []
    # a short trap at 100 is not sprung by a burst up through it
    assert burst(book(trap(side=Side.SELL)), through(60)) == []
    # and is sprung by sellers driving price down through it
    fired = burst(book(trap(side=Side.SELL)), list(reversed(through(60))), buy=False)
    assert [f.trap.side for f in fired] == [Side.SELL]
    # price touched the long's trigger, then fell back under the zone before the burst completed
    prices = [100.0] * 10 + [99.7] * 50
    assert burst(book(trap()), prices) == []


def test_cooldown_is_five_minutes_per_trap_and_per_symbol() -> None:
    first, second = trap("100"), trap("100.4", quality=0.9)
    b = book(first, second)
    fired = burst(b, through(60, 99.5, 100.2))
    assert [f.trap.trap_id for f in fired] == [first.trap_id]  # one signal for the burst
    # 4 minutes later: a burst through the other trap of the same symbol is still in cooldown
    assert burst(b, through(60, 100.1, 100.8), start=T0 + 4 * MINUTE) == []
    assert b.cooldown_until(first) == fired[0].trade_ts_ms + 5 * MINUTE
    # past 5 minutes: it fires again
    assert len(burst(b, through(60, 99.5, 100.2), start=T0 + 6 * MINUTE)) == 1


def test_one_burst_through_two_traps_gives_one_signal_the_best() -> None:
    weak, strong = trap("100", quality=0.3), trap("100.3", quality=0.8)
    # both triggers are reached before the burst qualifies: the better trap is the signal
    fired = burst(book(weak, strong), through(10, 99.5, 100.6) + [100.6] * 70)
    assert [f.trap.trap_id for f in fired] == [strong.trap_id]
    # the burst qualifies between them: the first one reached is the signal, the symbol cools down
    fired = burst(book(weak, strong), through(80, 99.5, 100.6))
    assert [f.trap.trap_id for f in fired] == [weak.trap_id]


def test_unarmed_nothing_springs_and_no_cooldown_starts() -> None:
    b = book(trap())
    assert burst(b, through(60), armed=False) == []
    assert b.cooldown_until(trap()) is None
    assert len(burst(b, through(60), start=T0 + 1000)) == 1


def test_other_symbols_do_not_count_toward_the_burst() -> None:
    b = book(trap())
    for i in range(60):
        b.on_trade("ETHUSDT", T0 + i, True, 100.0)
    assert b.on_trade("BTCUSDT", T0 + 60, True, 100.0) is None
    assert b.trades_in_window("ETHUSDT") == 60


def test_a_new_map_keeps_cooldowns_and_a_reset_forgets_the_tape() -> None:
    b = book(trap())
    assert len(burst(b, through(60))) == 1
    b.set_traps([trap()], T0 + MINUTE)
    assert burst(b, through(60), start=T0 + 2 * MINUTE) == []  # same trap id: still cooling down
    b.reset_tapes()
    assert b.trades_in_window("BTCUSDT") == 0
    assert b.last_price("BTCUSDT") is None
