"""brain: equity snapshots name their account (exchange), so NAV is restored per account

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("equity_snapshots", sa.Column("exchange", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_equity_snapshots_exchange"), "equity_snapshots", ["exchange"])


def downgrade() -> None:
    op.drop_index(op.f("ix_equity_snapshots_exchange"), table_name="equity_snapshots")
    op.drop_column("equity_snapshots", "exchange")
