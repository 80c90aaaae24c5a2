"""requests, approvals, locks and the insert-only audit trail

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = (
    "awaiting_approval",
    "approved",
    "running",
    "succeeded",
    "failed",
    "partially_failed",
    "denied",
    "expired",
    "cancelled",
    "refused",
    "interrupted",
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    states = ", ".join(f"'{state}'" for state in STATES)
    op.create_table(
        "requests",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("rung", sa.String(16), nullable=False),
        sa.Column("hosts", _json(), nullable=False),
        sa.Column("pool", sa.String(200), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("requester_person", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("plan", _json(), nullable=False),
        sa.Column("decision", _json(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("approvers", _json(), nullable=False),
        sa.Column("expires_at", _when(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.Column("started_at", _when(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("deny_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
        sa.UniqueConstraint("id", "requester", "requester_person", name="uq_requests_id_requester_requester_person"),
        sa.CheckConstraint(f"state IN ({states})", name="ck_requests_state"),
        sa.CheckConstraint("approvals_needed >= 0", name="ck_requests_approvals_needed"),
    )
    op.create_index("ix_requests_state", "requests", ["state"])
    op.create_index("ix_requests_site_created_at", "requests", ["site", "created_at"])

    op.create_table(
        "approvals",
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("requester_person", sa.String(200), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "approver", name="pk_approvals"),
        sa.ForeignKeyConstraint(
            ["request_id", "requester", "requester_person"],
            ["requests.id", "requests.requester", "requests.requester_person"],
            name="fk_approvals_request_id_requester_requester_person_requests",
        ),
        sa.CheckConstraint(
            "approver <> '' AND approver <> requester AND approver <> requester_person",
            name="ck_approvals_not_self",
        ),
    )

    op.create_table(
        "request_locks",
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pool", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("since", _when(), nullable=False),
        sa.PrimaryKeyConstraint("host", "pool", name="pk_request_locks"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_request_locks_request_id_requests"),
    )
    op.create_index("ix_request_locks_request_id", "request_locks", ["request_id"])

    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("state_from", sa.String(32), nullable=True),
        sa.Column("state_to", sa.String(32), nullable=False),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("rung", sa.String(16), nullable=False),
        sa.Column("hosts", _json(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="fk_audit_events_request_id_requests"),
    )
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"])
    op.create_index("ix_audit_events_site_at", "audit_events", ["site", "at"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])

    # the audit trail is insert-only, in the database itself
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION aspreset_audit_events_insert_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION USING MESSAGE = 'audit_events are insert-only: ' || TG_OP || ' refused';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_insert_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION aspreset_audit_events_insert_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION aspreset_audit_events_insert_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events are insert-only'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_insert_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS aspreset_audit_events_insert_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    op.drop_table("audit_events")
    op.drop_table("request_locks")
    op.drop_table("approvals")
    op.drop_table("requests")
