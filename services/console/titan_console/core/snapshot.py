"""What the console shows every second (STATE_UPDATE) and in /api/status. Pure builders.

Inputs are what the runtime last read; outputs are JSON-ready dicts (Decimals are kept as
Decimal and encoded as strings on the wire).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from titan_common.system_state import SystemState

DAY_MS = 86_400_000  # trading days are UTC days


@dataclass(frozen=True)
class EquityView:
    equity: Decimal | None
    source: str | None  # "wallet" (execution) | "snapshot" (brain's equity_snapshots)
    updated_ms: int | None
    daily_pnl: Decimal | None = None
    drawdown_pct: Decimal | None = None
    phase: int | None = None
    unrealised_pnl: Decimal | None = None


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def equity_view(
    wallet: Mapping[str, Any] | None,
    wallet_ms: int | None,
    snapshot: Mapping[str, Any] | None,
    now_ms: int,
    *,
    fresh_ms: int = 30_000,
) -> EquityView:
    """Equity from execution's latest wallet update when fresh, else the brain's latest
    equity snapshot. Daily PnL, drawdown and phase are the brain's (its snapshot);
    daily PnL is re-based on the live equity when both are known."""
    snap_equity = _dec(snapshot.get("equity")) if snapshot else None
    same_day = snapshot is not None and int(snapshot["ts_ms"]) // DAY_MS == now_ms // DAY_MS
    day_start = _dec(snapshot.get("day_start_equity")) if snapshot and same_day else None
    phase = int(snapshot["phase"]) if snapshot and snapshot.get("phase") is not None else None
    drawdown = _dec(snapshot.get("drawdown_pct")) if snapshot else None
    if wallet is not None and wallet_ms is not None and now_ms - wallet_ms <= fresh_ms:
        equity = _dec(wallet.get("equity"))
        daily = equity - day_start if equity is not None and day_start is not None else None
        return EquityView(equity, "wallet", wallet_ms, daily, drawdown, phase, _dec(wallet.get("unrealised_pnl")))
    if snapshot is not None:
        daily_pnl = _dec(snapshot.get("daily_pnl")) if same_day else None
        return EquityView(snap_equity, "snapshot", int(snapshot["ts_ms"]), daily_pnl, drawdown, phase)
    if wallet is not None:
        equity = _dec(wallet.get("equity"))
        return EquityView(equity, "wallet", wallet_ms, None, None, None, _dec(wallet.get("unrealised_pnl")))
    return EquityView(None, None, None)


def position_rows(positions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every venue's positions, as the table shows them: the venue (and its account), size,
    entry, mark, stop, live PnL."""
    return [
        {
            "venue": p.get("venue"),
            "exchange": p.get("exchange"),
            "symbol": p.get("symbol"),
            "side": p.get("side"),
            "size": p.get("size"),
            "entryPrice": p.get("entryPrice"),
            "markPrice": p.get("markPrice"),
            "stopLoss": p.get("stopLoss"),
            "takeProfit": p.get("takeProfit"),
            "unrealizedPnl": p.get("unrealizedPnl"),
            "adopted": bool(p.get("adopted")),
        }
        for p in positions
    ]


def state_update(
    *,
    ts_ms: int,
    equity: EquityView,
    master_arm: bool | None,
    system: SystemState,
    kill_switch: bool,
    breaker: Mapping[str, Any] | None,
    positions: Sequence[Mapping[str, Any]],
    positions_ok: bool,
    system_mode: str,
    venues: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "STATE_UPDATE",
        "ts_ms": ts_ms,
        "data": {
            "equity": equity.equity,
            "equitySource": equity.source,
            "equityUpdatedMs": equity.updated_ms,
            "dailyPnl": equity.daily_pnl,
            "drawdownPct": equity.drawdown_pct,
            "unrealizedPnl": equity.unrealised_pnl,
            "phase": equity.phase,
            "masterArm": master_arm,
            "mode": system.mode.value,
            "reasonCodes": [r.value for r in system.reasons],
            "since_ms": system.since_ms,
            "killSwitch": kill_switch,
            "circuitBreaker": dict(breaker) if breaker is not None else None,
            "positions": position_rows(positions),
            "positionsCount": len(positions),
            "positionsStale": not positions_ok,
            "systemMode": system_mode,
            "venues": dict(venues or {}),  # each venue's connection, from its execution's heartbeat
        },
    }


def breaker_from_events(rows: Sequence[Mapping[str, Any]], now_ms: int) -> dict[str, Any]:
    """The breaker as the brain's breaker_events record it, newest first: active after a
    TRIP until a RESET or COOLDOWN_END. Used when the brain does not answer."""
    for row in rows:
        action = str(row.get("action", "")).upper()
        if action == "TRIP":
            payload = row.get("payload") or {}
            return {
                "active": True,
                "level": row.get("level"),
                "reason": row.get("reason"),
                "tripped_at_ms": row.get("ts_ms"),
                "cooldown_until_ms": payload.get("cooldown_until_ms") or payload.get("until_ms"),
                "source": "breaker_events",
            }
        if action in ("RESET", "COOLDOWN_END"):
            break
    return {
        "active": False,
        "level": None,
        "reason": None,
        "tripped_at_ms": None,
        "cooldown_until_ms": None,
        "source": "breaker_events",
    }
