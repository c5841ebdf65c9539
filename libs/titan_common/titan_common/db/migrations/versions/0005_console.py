"""console: browser sessions (console_sessions)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_username"), "console_sessions", ["username"])
    op.create_index(op.f("ix_console_sessions_expires_ms"), "console_sessions", ["expires_ms"])


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_expires_ms"), table_name="console_sessions")
    op.drop_index(op.f("ix_console_sessions_username"), table_name="console_sessions")
    op.drop_table("console_sessions")
