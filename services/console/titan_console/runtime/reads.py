"""Read models for the console's lists and panels, straight from Postgres (the record)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, text, update

from titan_common.clock import now_ms
from titan_common.config import active_config
from titan_common.db import reads
from titan_common.db.engine import DB_ERRORS, transaction
from titan_common.db.models import (
    Alert,
    AuditEvent,
    OrderIntentRow,
    Proposal,
)
from titan_common.db.proposals import ProposalStatus
from titan_common.logging import best_effort
from titan_common.messages import IntentState
from titan_console.core import ops_panel
from titan_console.core.venues import merge_orders, merge_positions, merge_traps
from titan_console.errors import ConsoleError
from titan_console.runtime.context import Console

log = logging.getLogger(__name__)


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _sessions(console: Console) -> Any:
    if console.runtime.sessions is None:
        raise ConsoleError(503, "DB_UNAVAILABLE", "the database is not connected")
    return console.runtime.sessions


async def orders(console: Console, limit: int) -> dict[str, Any]:
    """Every venue's open orders from its execution (the owner), each naming its venue."""
    return merge_orders(await console.upstream.each_venue("GET", "/orders", params={"limit": limit}), limit)


async def traps(console: Console) -> dict[str, Any]:
    """Every venue's trap map (one scavenger per venue), each trap naming its venue."""
    return merge_traps(await console.upstream.each_venue("GET", "/traps", kind="scavenger"))


async def positions(console: Console) -> dict[str, Any]:
    """Every venue's open positions from its execution (the owner), each naming its venue:
    from the snapshot (refreshed every second and after the operator's own actions), asked
    afresh only when the snapshot is incomplete or too old (a venue's execution down: 503)."""
    cached = console.state.positions_now(int(console.settings.snapshot_max_age_s * 1000))
    if cached is not None:
        return cached
    asked = now_ms()
    merged = merge_positions(await console.upstream.each_venue("GET", "/positions"))
    return {**merged, "as_of_ms": asked, "age_ms": now_ms() - asked}


async def trades(console: Console, limit: int) -> dict[str, Any]:
    """Closed round trips, newest first (the same fields as execution's GET /trades)."""
    async with _sessions(console)() as session:
        rows = await reads.closed_trades(session, console.settings.accounts, limit=limit)
    items = [
        {
            "exchange": r.exchange,  # the account (venue) it was made on
            "symbol": r.symbol,
            "side": r.side,
            "qty": money(r.qty),
            "entryPrice": money(r.entry_price),
            "exitPrice": money(r.exit_price),
            "pnl": money(r.pnl),
            "fees": money(r.fees),
            "rMultiple": money(r.r_multiple),
            "signalId": r.signal_id,
            "openedAt": r.opened_ms,
            "closedAt": r.closed_ms,
        }
        for r in rows
    ]
    return {"count": len(items), "trades": items}


async def signals(console: Console, limit: int, status: str | None) -> dict[str, Any]:
    """Signals newest first with the brain's verdict; `status` is PENDING until decided."""
    async with _sessions(console)() as session:
        rows = await reads.signals_with_decisions(session, limit=limit, status=status.upper() if status else None)
    items = []
    for signal, decision in rows:
        payload = signal.payload or {}
        items.append(
            {
                "signal_id": signal.signal_id,
                "ts_ms": signal.ts_ms,
                "source": signal.source,
                "symbol": signal.symbol,
                "side": signal.side,
                "trap_type": signal.trap_type,
                "status": signal.status,
                "entry_price": payload.get("entry_price"),
                "stop_loss": payload.get("stop_loss"),
                "confidence": payload.get("confidence"),
                "verdict": decision.verdict if decision else None,
                "reasons": list(decision.reasons) if decision else [],
                "decision_id": decision.decision_id if decision else None,
            }
        )
    return {"count": len(items), "signals": items}


async def proposals_pending(console: Console) -> dict[str, Any]:
    """PENDING proposals, newest first, each with its evidence and whether it is stale (its
    base config is no longer the active one: approving it would be refused)."""
    async with _sessions(console)() as session:
        rows = (
            await session.scalars(
                select(Proposal)
                .where(Proposal.status == ProposalStatus.PENDING.value)
                .order_by(Proposal.created_ms.desc(), Proposal.id.desc())
                .limit(100)
            )
        ).all()
        active = (await active_config(session)).version_tag if rows else None
    items = []
    for r in rows:
        payload = r.payload or {}
        items.append(
            {
                "id": r.id,
                "created_ms": r.created_ms,
                "title": r.title,
                "status": r.status,
                "stale": payload.get("base_version") != active,
                "base_version": payload.get("base_version"),
                "diff": payload.get("diff", []),
                "evidence": payload.get("evidence"),
                "rationale": payload.get("rationale"),
                "payload": payload,
            }
        )
    return {"count": len(items), "proposals": items}


async def equity_curve(console: Console, hours: float) -> dict[str, Any]:
    """The brain's equity snapshots; before the brain records any, the wallet equity the
    console has seen since it started."""
    since = now_ms() - int(hours * 3600_000)
    async with _sessions(console)() as session:
        rows = await reads.equity_snapshots(session, console.settings.exchange, since_ms=since, limit=5000)
    if rows:
        points = [{"ts_ms": r.ts_ms, "equity": money(r.equity)} for r in rows]
        source = "equity_snapshots"
    else:
        points = [{"ts_ms": ts, "equity": eq} for ts, eq in console.state.equity_history if ts >= since]
        source = "wallet"
    return {"count": len(points), "source": source, "points": points}


async def alerts(console: Console, limit: int = 50) -> list[dict[str, Any]]:
    async with _sessions(console)() as session:
        rows = (await session.scalars(select(Alert).order_by(Alert.ts_ms.desc()).limit(limit))).all()
    items = [
        {
            "id": r.id,
            "ts_ms": r.ts_ms,
            "severity": r.severity,
            "source": r.source,
            "alert_type": r.alert_type,
            "reason_code": r.reason_code,
            "message": r.message,
            "acknowledged_ms": r.acknowledged_ms,
            "acknowledged_by": r.acknowledged_by,
        }
        for r in rows
    ]
    return [dict(a) for a in ops_panel.order_alerts(items)]


async def acknowledge_alert(console: Console, alert_id: int, operator_id: str) -> dict[str, Any]:
    """Ack reduces noise on the panel; it closes nothing (the ALERT audit event stays)."""
    async with transaction(_sessions(console)) as session:
        row = await session.get(Alert, alert_id)
        if row is None:
            raise ConsoleError(404, "ALERT_NOT_FOUND", f"no alert {alert_id}")
        if row.acknowledged_ms is None:
            await session.execute(
                update(Alert).where(Alert.id == alert_id).values(acknowledged_ms=now_ms(), acknowledged_by=operator_id)
            )
    await console.record("ALERT_ACK", operator_id, {"alert_id": alert_id}, {"acknowledged": True}, True)
    return {"success": True, "id": alert_id, "acknowledged_by": operator_id}


async def stage_changes(console: Console, limit: int = 20) -> list[dict[str, Any]]:
    """The last mode and stage changes of any service, newest first."""
    async with _sessions(console)() as session:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(or_(AuditEvent.event_type.in_(("MODE_CHANGE", "STAGE_CHANGED")), AuditEvent.stage.is_not(None)))
                .order_by(AuditEvent.ts_ms.desc())
                .limit(limit)
            )
        ).all()
    return [
        {
            "ts_ms": r.ts_ms,
            "service": r.service,
            "event_type": r.event_type,
            "stage": r.stage,
            "reason_code": r.reason_code,
            "cycle_id": r.cycle_id,
            "payload": r.payload,
        }
        for r in rows
    ]


async def intents(console: Console) -> dict[str, Any]:
    async with _sessions(console)() as session:
        by_state = select(OrderIntentRow.state, func.count()).group_by(OrderIntentRow.state)
        counts = dict((await session.execute(by_state)).all())
        unknown = (
            await session.scalars(
                select(OrderIntentRow)
                .where(OrderIntentRow.state == IntentState.SENT_UNKNOWN.value)
                .order_by(OrderIntentRow.ts_ms)
                .limit(20)
            )
        ).all()
    return {
        "by_state": ops_panel.order_intents({str(k): int(v) for k, v in counts.items()}),
        "sent_unknown": [
            {
                "intent_id": r.intent_id,
                "client_order_id": r.client_order_id,
                "symbol": r.symbol,
                "side": r.side,
                "qty": money(r.qty),
                "ts_ms": r.ts_ms,
                "lookup_attempts": r.lookup_attempts,
            }
            for r in unknown
        ],
    }


async def storage(console: Console, services: dict[str, Any]) -> dict[str, Any]:
    """DB latency and size, WAL, disk free under var/, and every service's audit writer."""
    database: dict[str, Any] = {"ok": False}
    wal: dict[str, Any] = {"bytes": None}
    with best_effort(log, "reading the database size", *DB_ERRORS):
        async with _sessions(console)() as session:
            size = await session.scalar(text("SELECT pg_database_size(current_database())"))
            database = {"ok": True, "size_bytes": int(size or 0), **console.runtime.checks["db"].as_dict()}
    with best_effort(log, "reading the WAL size", *DB_ERRORS):
        async with _sessions(console)() as session:
            wal = {"bytes": int(await session.scalar(text("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")) or 0)}
    if wal["bytes"] is None:
        wal["note"] = "pg_ls_waldir needs the pg_monitor role"
    var_dir = console.settings.var_dir
    usage = await asyncio.to_thread(_disk_usage, str(var_dir))
    writers = {}
    for name, body in services.items():
        checks = (body or {}).get("checks") or {}
        if "audit_writer" in checks:
            writers[name] = checks["audit_writer"]
    return {"database": database, "wal": wal, "disk": usage, "writers": writers}


def _disk_usage(path: str) -> dict[str, Any]:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        usage = shutil.disk_usage(".")
    return {
        "path": path,
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_pct": round(100.0 * usage.free / usage.total, 2) if usage.total else None,
    }
