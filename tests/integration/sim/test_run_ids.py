"""A simulator restarted or reset with the same seed gives the same market but new order and
execution ids: Titan dedups fills by exec id per account, so a PAPER stack restarted on the
same database would otherwise drop every new fill as already recorded (found when two test
stacks, one after the other, used MEXC's account)."""

from __future__ import annotations

from titan_sim.runtime.venue import Venue
from titan_sim.settings import SimSettings


def test_each_run_and_each_reset_hands_out_ids_of_its_own() -> None:
    first, second = Venue(SimSettings()), Venue(SimSettings())
    assert first.engine.markets["BTCUSDT"].mark == second.engine.markets["BTCUSDT"].mark  # the same market
    seen = {first.engine.new_id(), second.engine.new_id(), first.spot._new_id(1), second.spot._new_id(1)}
    first.reset()
    seen |= {first.engine.new_id(), first.spot._new_id(1)}
    assert len(seen) == 6
