"""MEXC's own scavenger (`scavenger-mexc`): the same code on MEXC's market, read over the
simulator's MEXC spot face by REST polling. A burst through one of its traps gives one
signal that names `mexc`; its map holds Buy traps only (spot is long-only); it beats as
`scavenger-mexc` and every metric it serves says venue="mexc"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.execution.conftest import Sim
from tests.integration.scavenger.conftest import burst_through, mode_of, pick_trap, running_scavenger
from tests.processes import until
from titan_common.messages import Side

pytestmark = pytest.mark.integration


async def test_mexcs_scavenger_signals_for_mexc_with_buy_traps_only(
    fresh_sim: Sim, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    mexc = {
        "TITAN_VENUES": "bybit,mexc",
        "TITAN_SCAVENGER_VENUE": "mexc",
        "TITAN_EXCHANGE": "mexc",
        "TITAN_MEXC_ENDPOINT": fresh_sim.mexc_url,
        "TITAN_MEXC_API_KEY": fresh_sim.mexc_api_key,
        "TITAN_MEXC_API_SECRET": fresh_sim.mexc_api_secret,
    }
    async with running_scavenger(fresh_sim, database_url, redis_url, tmp_path, **mexc) as scavenger:
        health = scavenger.health()
        assert health["service"] == "scavenger-mexc"
        assert health["checks"]["market_data"]["exchange"] == "mexc"
        assert health["checks"]["market_data"]["endpoint"] == fresh_sim.mexc_url
        await until(lambda: mode_of(scavenger)[0] == "NORMAL", 30, "NORMAL")
        # long-only, MEXC's map holds half the candidates Bybit's does, and on the seeded
        # market it can be empty: then the market is walked down (a Buy trap is set above
        # price) and the map rebuilt (every 2 s here) until one sits 0.2-8 % away
        trap = None
        for _ in range(6):
            try:
                trap = await until(lambda: pick_trap(scavenger, max_pct=8.0), 6, "a trap 0.2-8% from price")
                break
            except AssertionError:
                fresh_sim.control("POST", "/market/BTCUSDT/burst", {"pct": -1.5, "trades": 10, "window_ms": 2000})
        assert trap is not None, scavenger.traps()
        assert {t["side"] for t in scavenger.traps()["traps"]} == {"Buy"}

        burst_through(fresh_sim, trap)

        signals = await until(scavenger.signals, 15, what="a signal on titan:signals")
        assert {(s.exchange, s.side) for s in signals} == {("mexc", Side.BUY)}
        assert trap["symbol"] in {s.symbol for s in signals}
        beat = await scavenger.redis.get("titan:hb:scavenger-mexc")
        assert beat is not None
        assert json.loads(beat)["mode"] == "NORMAL"
        up = [line for line in scavenger.metrics().splitlines() if line.startswith("titan_scavenger_signals_total{")]
        assert up
        assert all('venue="mexc"' in line for line in up)
