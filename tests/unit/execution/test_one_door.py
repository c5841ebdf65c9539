"""One door, read from the source: outside execution's engine no Titan code calls an adapter's
order methods (the venues' own folders implement them). Reads may go anywhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# an adapter's order methods, called on anything but the engine or the operator actions
ORDER_METHODS = re.compile(r"(?<!engine)(?<!operator_actions)\.(place_order|cancel_order|cancel_all|amend_order)\(")
ENGINE = ROOT / "services/execution/titan_execution/runtime/engine.py"
VENUES = ROOT / "libs/titan_common/titan_common/exchanges"
SIMULATOR = ROOT / "services/sim"  # the venue itself, not a client of one


def callers() -> list[str]:
    found = []
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "libs").rglob("*.py")]:
        if path == ENGINE or path.is_relative_to(VENUES) or path.is_relative_to(SIMULATOR):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ORDER_METHODS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_only_the_engine_sends_orders() -> None:
    assert callers() == []
