"""fills are unique per (exchange, exec_id), not by exec_id alone

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("pk_fills", "fills", type_="primary")
    op.create_primary_key("pk_fills", "fills", ["exchange", "exec_id"])


def downgrade() -> None:
    op.drop_constraint("pk_fills", "fills", type_="primary")
    op.create_primary_key("pk_fills", "fills", ["exec_id"])
