"""shared by the serve replicas: each request's Slack message, keys used once, leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_messages",
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("shown_state", sa.String(32), nullable=True),
        sa.Column("posted_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_slack_messages"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_slack_messages_request_id_requests"),
    )
    op.create_table(
        "once_keys",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_once_keys"),
    )
    op.create_index("ix_once_keys_at", "once_keys", ["at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("until", _when(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_once_keys_at", table_name="once_keys")
    op.drop_table("once_keys")
    op.drop_table("slack_messages")
