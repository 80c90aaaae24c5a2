"""the health watch's incidents: one open per site, host and kind

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("open_key", sa.String(500), nullable=True),
        sa.Column("opened_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.Column("closed_at", _when(), nullable=True),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("first_evidence", sa.Text(), nullable=False),
        sa.Column("offer", sa.String(16), nullable=True),
        sa.Column("recovered_by", sa.String(16), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("open_key", name="uq_incidents_open_key"),
    )
    op.create_index("ix_incidents_site_opened_at", "incidents", ["site", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_site_opened_at", table_name="incidents")
    op.drop_table("incidents")
