"""Tables. Money is NUMERIC (Decimal in Python); time is BIGINT UTC milliseconds.

Audit tables (audit_events, operator_actions, breaker_events, reconcile_runs/diffs) are
append-only: a trigger in the migration refuses UPDATE and DELETE on them, except a
retention DELETE that sets `titan.retention = on` for its transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(38, 18)
Json = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {Decimal: MONEY, Json: JSONB, list[str]: JSONB}


# --- safety state and configuration -------------------------------------------------


class SystemStateRow(Base):
    """Each service's current mode and active reason codes (one row per service)."""

    __tablename__ = "system_state"
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(default=list)
    since_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class SystemFlag(Base):
    """Persisted operator switches, e.g. master_arm. Their history is in operator_actions."""

    __tablename__ = "system_flags"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Json]
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(64))


class ConfigVersion(Base):
    """Every configuration ever applied. The active one is the newest; a rollback appends a copy."""

    __tablename__ = "config_versions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    version_tag: Mapped[str] = mapped_column(String(64), unique=True)
    config: Mapped[Json]
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    operator_id: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    rolled_back_from: Mapped[str | None] = mapped_column(String(64))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    created_ms: Mapped[int] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ConsoleSession(Base):
    """A browser login to the console (migration 0005). Only the token's SHA-256 is stored."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


# --- audit (append-only) ---------------------------------------------------------------


class OperatorAction(Base):
    __tablename__ = "operator_actions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    operator_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    request: Mapped[Json]
    result: Mapped[Json]
    success: Mapped[bool] = mapped_column(Boolean)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    service: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    reason_code: Mapped[str | None] = mapped_column(String(48))
    stage: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    cycle_id: Mapped[str | None] = mapped_column(String(64))
    signal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(64))
    order_intent_id: Mapped[str | None] = mapped_column(String(64))
    operator_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[Json]


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    alert_type: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str | None] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text)
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))


# --- the hot path: signal -> decision -> intent -> order -> fill -> position ----------


class SignalRow(Base):
    __tablename__ = "signals"
    signal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    trap_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # PENDING|APPROVED|VETOED|EXPIRED
    payload: Mapped[Json]


class DecisionRow(Base):
    __tablename__ = "decisions"
    decision_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # unique: one decision per signal, whatever the redeliveries
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.signal_id"), unique=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    verdict: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(default=list)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal]
    leverage: Mapped[int] = mapped_column(Integer)
    risk_usd: Mapped[Decimal]
    phase: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[Json]


class OrderIntentRow(Base):
    __tablename__ = "order_intents"
    intent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    exchange: Mapped[str | None] = mapped_column(String(16))  # the account (venue) it is for
    client_order_id: Mapped[str] = mapped_column(String(36), unique=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.decision_id"), unique=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(8))
    qty: Mapped[Decimal]
    price: Mapped[Decimal | None]
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    leverage: Mapped[int] = mapped_column(Integer)
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20), index=True)
    state_reason: Mapped[str | None] = mapped_column(String(48))
    lookup_attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("exchange", "exchange_order_id"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(16))
    exchange_order_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str | None] = mapped_column(String(36), index=True)
    intent_id: Mapped[str | None] = mapped_column(ForeignKey("order_intents.intent_id"))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(8))
    qty: Mapped[Decimal]
    price: Mapped[Decimal | None]
    trigger_price: Mapped[Decimal | None]
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), index=True)
    cum_exec_qty: Mapped[Decimal] = mapped_column(default=Decimal(0))
    avg_price: Mapped[Decimal | None]
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class FillRow(Base):
    __tablename__ = "fills"
    # an execution is identified by its venue's exec_id: seen on both WS and REST, it is one row
    exchange: Mapped[str] = mapped_column(String(16), primary_key=True)
    exec_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    exchange_order_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str | None] = mapped_column(String(36), index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal]
    qty: Mapped[Decimal]
    fee: Mapped[Decimal]
    exec_type: Mapped[str] = mapped_column(String(16))
    is_maker: Mapped[bool] = mapped_column(Boolean)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(8))  # WS | REST


class PositionRow(Base):
    __tablename__ = "positions"
    exchange: Mapped[str] = mapped_column(String(16), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    side: Mapped[str] = mapped_column(String(4))  # "" when flat
    size: Mapped[Decimal]
    avg_entry: Mapped[Decimal]
    leverage: Mapped[int] = mapped_column(Integer, default=1)
    realised_pnl: Mapped[Decimal]
    unrealised_pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    mark_price: Mapped[Decimal | None]
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_ms: Mapped[int | None] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    # the round trip in progress (entry value, largest size, exits so far, PnL, fees, first
    # stop), as decimal strings: a trade closed after a restart has its real qty and entry
    trip: Mapped[Json | None]


class TradeRow(Base):
    """A closed round trip."""

    __tablename__ = "trades"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal]
    entry_price: Mapped[Decimal]
    exit_price: Mapped[Decimal]
    pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    r_multiple: Mapped[Decimal | None]
    signal_id: Mapped[str | None] = mapped_column(String(64))
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    closed_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class EquitySnapshot(Base):
    __tablename__ = "equity_snapshots"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # the account the equity belongs to (migration 0003); NULL on rows written before it
    exchange: Mapped[str | None] = mapped_column(String(16), index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    equity: Mapped[Decimal]
    wallet_balance: Mapped[Decimal]
    unrealised_pnl: Mapped[Decimal]
    day_start_equity: Mapped[Decimal]
    high_watermark: Mapped[Decimal]
    daily_pnl: Mapped[Decimal]
    drawdown_pct: Mapped[Decimal]
    phase: Mapped[int] = mapped_column(Integer)


class BreakerEvent(Base):
    __tablename__ = "breaker_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(16))  # TRIP | RESET | COOLDOWN_END
    level: Mapped[str] = mapped_column(String(8))  # SOFT | HARD
    reason: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[Json]


class ReconcileRun(Base):
    __tablename__ = "reconcile_runs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    started_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger)
    trigger: Mapped[str] = mapped_column(String(32))  # STARTUP | PERIODIC | WS_RECONNECT | OPERATOR
    status: Mapped[str] = mapped_column(String(8))  # OK | WARN | BAD
    summary: Mapped[Json]


class ReconcileDiff(Base):
    __tablename__ = "reconcile_diffs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # POSITION | ORDER | FILL | WALLET
    symbol: Mapped[str | None] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(32))
    shadow_value: Mapped[str | None] = mapped_column(Text)
    exchange_value: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(32))


class ExecutionLog(Base):
    """One row per scheduled cycle; cycle_id uniqueness is what makes a cycle idempotent."""

    __tablename__ = "execution_logs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))
    ai_audit_payload: Mapped[Json]


class OhlcvSnapshot(Base):
    """The bar each breadth-scanner cycle read per symbol (DATA-ORIGIN-02): what it saw, kept."""

    __tablename__ = "ohlcv_snapshots"
    __table_args__ = (UniqueConstraint("cycle_id", "symbol"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(64), index=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    interval: Mapped[str] = mapped_column(String(8))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal]
    turnover: Mapped[Decimal]


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # PENDING | APPROVED | REJECTED
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[Json]
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))


class DailyReportRow(Base):
    """One daily report per UTC day (migration 0006): figures as JSON, the page as HTML."""

    __tablename__ = "daily_reports"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    generated_ms: Mapped[int] = mapped_column(BigInteger)
    figures: Mapped[Json]
    html: Mapped[str] = mapped_column(Text)


Index("ix_audit_events_service_ts", AuditEvent.service, AuditEvent.ts_ms)
Index("ix_signals_status_ts", SignalRow.status, SignalRow.ts_ms)

APPEND_ONLY_TABLES = ("audit_events", "operator_actions", "breaker_events", "reconcile_runs", "reconcile_diffs")
