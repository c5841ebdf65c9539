"""intents name their account (and venue): order_intents.exchange, as positions, orders, fills
and trades do

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_intents", sa.Column("exchange", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("order_intents", "exchange")
