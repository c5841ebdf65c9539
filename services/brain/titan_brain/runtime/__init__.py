"""The brain's background loops and I/O wiring (see runtime/brain.py for what each does)."""

from __future__ import annotations

from titan_brain.runtime.brain import Brain
from titan_common.service import ServiceRuntime


async def setup(runtime: ServiceRuntime) -> None:
    """Register the brain's loops on the runtime (called once, before start)."""
    brain = Brain(runtime)
    runtime.components["brain"] = brain
    runtime.readiness.append(brain.ready.is_set)

    async def close_on_stop(rt: ServiceRuntime) -> None:
        await rt.stop.wait()
        await brain.close()

    runtime.add_loop("restore", brain.restore)
    runtime.add_loop("signals", brain.consume_signals)
    runtime.add_loop("events", brain.consume_events)
    runtime.add_loop("control", brain.consume_control)
    runtime.add_loop("wallet", brain.poll_wallet)
    runtime.add_loop("snapshots", brain.snapshots)
    runtime.add_loop("market", brain.market_data)
    runtime.add_loop("tick", brain.tick)
    runtime.add_loop("close", close_on_stop)
    runtime.extra_health.append(brain.health)
