"""The console's deferred steps: one that still fails (execution away) never holds up the
others (a row waiting for Postgres), and is kept, in order, for the next flush."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from titan_console.runtime.context import Console


def test_a_failing_step_is_kept_and_holds_up_nothing() -> None:
    done: list[str] = []

    async def hand_over() -> None:
        raise ConnectionError("execution did not answer")

    async def write_flag() -> None:
        done.append("kill switch flag")

    console = cast(Any, type("Deferred", (), {"deferred": [hand_over, write_flag]})())
    assert asyncio.run(Console.flush_deferred(console)) == 1
    assert done == ["kill switch flag"]
    assert console.deferred == [hand_over]
