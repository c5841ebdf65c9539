"""execution: a position's round trip survives a restart (positions.trip); order statuses in
Titan's words (orders.status: Filled -> FILLED...)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Bybit's names, as rows before this revision hold them -> Titan's (exchanges.types.OrderStatus)
STATUSES = {
    "Created": "NEW",
    "New": "NEW",
    "Active": "NEW",
    "PartiallyFilled": "PARTIALLY_FILLED",
    "Filled": "FILLED",
    "Cancelled": "CANCELLED",
    "PartiallyFilledCanceled": "CANCELLED",
    "Rejected": "REJECTED",
    "Untriggered": "UNTRIGGERED",
    "Triggered": "TRIGGERED",
    "Deactivated": "DEACTIVATED",
}


def upgrade() -> None:
    op.add_column("positions", sa.Column("trip", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    for old, new in STATUSES.items():
        op.execute(sa.text("UPDATE orders SET status = :new WHERE status = :old").bindparams(old=old, new=new))


def downgrade() -> None:
    for old, new in STATUSES.items():
        if old not in ("Created", "Active", "PartiallyFilledCanceled"):
            op.execute(sa.text("UPDATE orders SET status = :old WHERE status = :new").bindparams(old=old, new=new))
    op.drop_column("positions", "trip")
