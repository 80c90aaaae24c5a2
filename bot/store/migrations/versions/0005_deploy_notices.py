"""each posted deploy notice and what became of its button: used (by whom, when, the request it
started) or retired for age, and what its message last showed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deploy_notices",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("rung", sa.String(16), nullable=False),
        sa.Column("posted_at", _when(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("retired_why", sa.String(16), nullable=True),
        sa.Column("retired_by", sa.String(200), nullable=True),
        sa.Column("retired_at", _when(), nullable=True),
        sa.Column("request_id", sa.String(16), nullable=True),
        sa.Column("shown", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("channel", "ts", name="pk_deploy_notices"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_deploy_notices_request_id_requests"),
        sa.CheckConstraint("retired_why IN ('used', 'too_old')", name="ck_deploy_notices_retired_why"),
    )
    op.create_index("ix_deploy_notices_posted_at", "deploy_notices", ["posted_at"])


def downgrade() -> None:
    op.drop_index("ix_deploy_notices_posted_at", table_name="deploy_notices")
    op.drop_table("deploy_notices")
