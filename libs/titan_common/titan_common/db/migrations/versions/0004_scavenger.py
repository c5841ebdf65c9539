"""scavenger: ohlcv_snapshots, the bars each breadth-scanner cycle read (DATA-ORIGIN-02)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = sa.Numeric(precision=38, scale=18)
    op.create_table(
        "ohlcv_snapshots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("open", money, nullable=False),
        sa.Column("high", money, nullable=False),
        sa.Column("low", money, nullable=False),
        sa.Column("close", money, nullable=False),
        sa.Column("volume", money, nullable=False),
        sa.Column("turnover", money, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ohlcv_snapshots")),
        sa.UniqueConstraint("cycle_id", "symbol", name=op.f("uq_ohlcv_snapshots_cycle_id_symbol")),
    )
    op.create_index(op.f("ix_ohlcv_snapshots_cycle_id"), "ohlcv_snapshots", ["cycle_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ohlcv_snapshots_cycle_id"), table_name="ohlcv_snapshots")
    op.drop_table("ohlcv_snapshots")
