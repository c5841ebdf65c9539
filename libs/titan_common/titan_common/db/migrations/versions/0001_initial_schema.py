"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:17:27.702629
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# Audit tables refuse UPDATE and DELETE. Retention (a Celery job) deletes old rows by
# setting `SET LOCAL titan.retention = 'on'` in its own transaction.
APPEND_ONLY_TABLES = ("audit_events", "operator_actions", "breaker_events", "reconcile_runs", "reconcile_diffs")

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION titan_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('titan.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'table % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _create_append_only_triggers() -> None:
    op.execute(APPEND_ONLY_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION titan_append_only()"
        )


def _drop_append_only_triggers() -> None:
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS titan_append_only()")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("alert_type", sa.String(length=64), nullable=False),
        sa.Column("reason_code", sa.String(length=48), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_ts_ms"), "alerts", ["ts_ms"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("reason_code", sa.String(length=48), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("cycle_id", sa.String(length=64), nullable=True),
        sa.Column("signal_id", sa.String(length=64), nullable=True),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("order_intent_id", sa.String(length=64), nullable=True),
        sa.Column("operator_id", sa.String(length=64), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    op.create_index(op.f("ix_audit_events_event_type"), "audit_events", ["event_type"], unique=False)
    op.create_index("ix_audit_events_service_ts", "audit_events", ["service", "ts_ms"], unique=False)
    op.create_index(op.f("ix_audit_events_signal_id"), "audit_events", ["signal_id"], unique=False)
    op.create_index(op.f("ix_audit_events_ts_ms"), "audit_events", ["ts_ms"], unique=False)
    op.create_table(
        "breaker_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaker_events")),
    )
    op.create_index(op.f("ix_breaker_events_ts_ms"), "breaker_events", ["ts_ms"], unique=False)
    op.create_table(
        "config_versions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("version_tag", sa.String(length=64), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rolled_back_from", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
        sa.UniqueConstraint("version_tag", name=op.f("uq_config_versions_version_tag")),
    )
    op.create_index(op.f("ix_config_versions_created_ms"), "config_versions", ["created_ms"], unique=False)
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("equity", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("wallet_balance", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("unrealised_pnl", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("day_start_equity", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("high_watermark", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("daily_pnl", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("drawdown_pct", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
    )
    op.create_index(op.f("ix_equity_snapshots_ts_ms"), "equity_snapshots", ["ts_ms"], unique=False)
    op.create_table(
        "execution_logs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ai_audit_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_logs")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_execution_logs_cycle_id")),
    )
    op.create_index(op.f("ix_execution_logs_ts_ms"), "execution_logs", ["ts_ms"], unique=False)
    op.create_table(
        "fills",
        sa.Column("exec_id", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=16), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("fee", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("exec_type", sa.String(length=16), nullable=False),
        sa.Column("is_maker", sa.Boolean(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("exec_id", name=op.f("pk_fills")),
    )
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"], unique=False)
    op.create_index(op.f("ix_fills_symbol"), "fills", ["symbol"], unique=False)
    op.create_index(op.f("ix_fills_ts_ms"), "fills", ["ts_ms"], unique=False)
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_index(op.f("ix_operator_actions_operator_id"), "operator_actions", ["operator_id"], unique=False)
    op.create_index(op.f("ix_operator_actions_ts_ms"), "operator_actions", ["ts_ms"], unique=False)
    op.create_table(
        "positions",
        sa.Column("exchange", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("size", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("avg_entry", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("realised_pnl", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("unrealised_pnl", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("fees", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("mark_price", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("stop_loss", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("take_profit", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("adopted", sa.Boolean(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "symbol", name=op.f("pk_positions")),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index(op.f("ix_proposals_created_ms"), "proposals", ["created_ms"], unique=False)
    op.create_index(op.f("ix_proposals_status"), "proposals", ["status"], unique=False)
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_index(op.f("ix_reconcile_runs_started_ms"), "reconcile_runs", ["started_ms"], unique=False)
    op.create_table(
        "signals",
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("trap_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_signals")),
    )
    op.create_index("ix_signals_status_ts", "signals", ["status", "ts_ms"], unique=False)
    op.create_index(op.f("ix_signals_ts_ms"), "signals", ["ts_ms"], unique=False)
    op.create_table(
        "system_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_flags")),
    )
    op.create_table(
        "system_state",
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_system_state")),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("exchange", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("entry_price", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("exit_price", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("pnl", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("fees", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("r_multiple", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("signal_id", sa.String(length=64), nullable=True),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
    )
    op.create_index(op.f("ix_trades_closed_ms"), "trades", ["closed_ms"], unique=False)
    op.create_index(op.f("ix_trades_symbol"), "trades", ["symbol"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("risk_usd", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["signal_id"], ["signals.signal_id"], name=op.f("fk_decisions_signal_id_signals")),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("signal_id", name=op.f("uq_decisions_signal_id")),
    )
    op.create_index(op.f("ix_decisions_ts_ms"), "decisions", ["ts_ms"], unique=False)
    op.create_table(
        "reconcile_diffs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("shadow_value", sa.Text(), nullable=True),
        sa.Column("exchange_value", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reconcile_runs.id"], name=op.f("fk_reconcile_diffs_run_id_reconcile_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_diffs")),
    )
    op.create_index(op.f("ix_reconcile_diffs_run_id"), "reconcile_diffs", ["run_id"], unique=False)
    op.create_table(
        "order_intents",
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("price", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("stop_loss", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("take_profit", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.String(length=48), nullable=True),
        sa.Column("lookup_attempts", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.decision_id"], name=op.f("fk_order_intents_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_order_intents")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_order_intents_client_order_id")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_order_intents_decision_id")),
    )
    op.create_index(op.f("ix_order_intents_state"), "order_intents", ["state"], unique=False)
    op.create_index(op.f("ix_order_intents_ts_ms"), "order_intents", ["ts_ms"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("exchange", sa.String(length=16), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=True),
        sa.Column("intent_id", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("price", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("trigger_price", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("stop_loss", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("take_profit", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cum_exec_qty", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("avg_price", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"], ["order_intents.intent_id"], name=op.f("fk_orders_intent_id_order_intents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("exchange", "exchange_order_id", name=op.f("uq_orders_exchange_exchange_order_id")),
    )
    op.create_index(op.f("ix_orders_client_order_id"), "orders", ["client_order_id"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)
    op.create_index(op.f("ix_orders_symbol"), "orders", ["symbol"], unique=False)
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_orders_symbol"), table_name="orders")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_client_order_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_order_intents_ts_ms"), table_name="order_intents")
    op.drop_index(op.f("ix_order_intents_state"), table_name="order_intents")
    op.drop_table("order_intents")
    op.drop_index(op.f("ix_reconcile_diffs_run_id"), table_name="reconcile_diffs")
    op.drop_table("reconcile_diffs")
    op.drop_index(op.f("ix_decisions_ts_ms"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("users")
    op.drop_index(op.f("ix_trades_symbol"), table_name="trades")
    op.drop_index(op.f("ix_trades_closed_ms"), table_name="trades")
    op.drop_table("trades")
    op.drop_table("system_state")
    op.drop_table("system_flags")
    op.drop_index(op.f("ix_signals_ts_ms"), table_name="signals")
    op.drop_index("ix_signals_status_ts", table_name="signals")
    op.drop_table("signals")
    op.drop_index(op.f("ix_reconcile_runs_started_ms"), table_name="reconcile_runs")
    op.drop_table("reconcile_runs")
    op.drop_index(op.f("ix_proposals_status"), table_name="proposals")
    op.drop_index(op.f("ix_proposals_created_ms"), table_name="proposals")
    op.drop_table("proposals")
    op.drop_table("positions")
    op.drop_index(op.f("ix_operator_actions_ts_ms"), table_name="operator_actions")
    op.drop_index(op.f("ix_operator_actions_operator_id"), table_name="operator_actions")
    op.drop_table("operator_actions")
    op.drop_index(op.f("ix_fills_ts_ms"), table_name="fills")
    op.drop_index(op.f("ix_fills_symbol"), table_name="fills")
    op.drop_index(op.f("ix_fills_client_order_id"), table_name="fills")
    op.drop_table("fills")
    op.drop_index(op.f("ix_execution_logs_ts_ms"), table_name="execution_logs")
    op.drop_table("execution_logs")
    op.drop_index(op.f("ix_equity_snapshots_ts_ms"), table_name="equity_snapshots")
    op.drop_table("equity_snapshots")
    op.drop_index(op.f("ix_config_versions_created_ms"), table_name="config_versions")
    op.drop_table("config_versions")
    op.drop_index(op.f("ix_breaker_events_ts_ms"), table_name="breaker_events")
    op.drop_table("breaker_events")
    op.drop_index(op.f("ix_audit_events_ts_ms"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_signal_id"), table_name="audit_events")
    op.drop_index("ix_audit_events_service_ts", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_event_type"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_alerts_ts_ms"), table_name="alerts")
    op.drop_table("alerts")
