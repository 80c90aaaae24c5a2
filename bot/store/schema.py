"""The tables, as SQLAlchemy Core metadata. Migrations (bot/store/migrations) create exactly this;
tests/integration/store checks that the migrated database and this metadata agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from bot.app.records import RequestState

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

VERSION_TABLE = "aspreset_alembic_version"

Json = JSON().with_variant(JSONB(), "postgresql")
AuditId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class UtcDateTime(TypeDecorator[datetime]):
    """Tz-aware UTC in, tz-aware UTC out. PostgreSQL stores timestamptz; SQLite stores naive UTC text
    (fixed width, so comparisons in SQL order correctly). A naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a tz-aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_STATES = ", ".join(f"'{state.value}'" for state in RequestState)

requests = Table(
    "requests",
    metadata,
    Column("id", String(16), nullable=False),
    Column("site", String(200), nullable=False),
    Column("rung", String(16), nullable=False),
    Column("hosts", Json, nullable=False),
    Column("pool", String(200), nullable=False),
    Column("requester", String(200), nullable=False),
    # '' when the requester is linked to no person: a NOT NULL column lets approvals reference it
    Column("requester_person", String(200), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("plan", Json, nullable=False),
    Column("decision", Json, nullable=False),
    Column("state", String(32), nullable=False),
    Column("approvals_needed", Integer, nullable=False),
    Column("approvers", Json, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("owner", String(200), nullable=True),
    Column("result", Json, nullable=True),
    Column("deny_reason", Text, nullable=True),
    PrimaryKeyConstraint("id"),
    # the target of approvals' composite foreign key: an approval row carries the true requester
    UniqueConstraint("id", "requester", "requester_person"),
    CheckConstraint(f"state IN ({_STATES})", name="state"),
    CheckConstraint("approvals_needed >= 0", name="approvals_needed"),
    Index("ix_requests_state", "state"),
    Index("ix_requests_site_created_at", "site", "created_at"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("request_id", String(16), nullable=False),
    Column("approver", String(200), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("requester_person", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("request_id", "approver"),  # the same approver counts once
    ForeignKeyConstraint(
        ["request_id", "requester", "requester_person"],
        ["requests.id", "requests.requester", "requests.requester_person"],
    ),
    # the database's own guard against self-approval, whatever the code above it does
    CheckConstraint("approver <> '' AND approver <> requester AND approver <> requester_person", name="not_self"),
)

request_locks = Table(
    "request_locks",
    metadata,
    Column("host", String(255), nullable=False),  # casefolded
    Column("pool", String(255), nullable=False),  # casefolded
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=False),
    Column("since", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("host", "pool"),  # one holder per (host, pool)
    Index("ix_request_locks_request_id", "request_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", AuditId, primary_key=True, autoincrement=True),
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("state_from", String(32), nullable=True),
    Column("state_to", String(32), nullable=False),
    Column("site", String(200), nullable=False),
    Column("rung", String(16), nullable=False),
    Column("hosts", Json, nullable=False),
    Column("details", Json, nullable=False),
    Index("ix_audit_events_request_id", "request_id"),
    Index("ix_audit_events_site_at", "site", "at"),
    Index("ix_audit_events_at", "at"),
)

slack_messages = Table(
    "slack_messages",
    metadata,
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("shown_state", String(32), nullable=True),  # the final state its last update showed
    Column("posted_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("request_id"),
)

once_keys = Table(  # e.g. a deploy webhook's signature: a replay is refused on every replica
    "once_keys",
    metadata,
    Column("key", String(128), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("key"),
    Index("ix_once_keys_at", "at"),
)

slack_rate_limits = Table(  # Slack's limits count per method for the app, whichever replica calls
    "slack_rate_limits",
    metadata,
    Column("method", String(64), nullable=False),
    Column("tokens", Float, nullable=False),  # the method's token bucket, as of `at`
    Column("at", UtcDateTime, nullable=False),
    Column("paused_until", UtcDateTime, nullable=True),  # a 429's Retry-After: nobody calls it before
    PrimaryKeyConstraint("method"),
)

leases = Table(  # one holder at a time across replicas (the expiry sweeper)
    "leases",
    metadata,
    Column("name", String(64), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("until", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("name"),
)

incidents = Table(  # the health watch (bot/app/watch): one open per site, host and kind
    "incidents",
    metadata,
    Column("id", String(16), nullable=False),
    Column("site", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    # "site host kind" while open, NULL once closed: the unique constraint allows one open at a time
    Column("open_key", String(500), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("probes", Integer, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("first_evidence", Text, nullable=False),
    Column("offer", String(16), nullable=True),
    Column("recovered_by", String(16), nullable=True),
    Column("channel", String(32), nullable=True),
    Column("ts", String(32), nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("open_key"),
    Index("ix_incidents_site_opened_at", "site", "opened_at"),
)

deploy_notices = Table(  # each posted deploy notice and what became of its button (bot/store/notices.py)
    "deploy_notices",
    metadata,
    Column("channel", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("site", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("rung", String(16), nullable=False),  # the restart its button offered
    Column("posted_at", UtcDateTime, nullable=False),
    Column("text", Text, nullable=False),  # as posted, without the button: what a retired notice shows
    Column("blocks", Json, nullable=False),
    Column("retired_why", String(16), nullable=True),  # 'used' or 'too_old'; NULL while it offers the button
    Column("retired_by", String(200), nullable=True),  # who used it, or the sweeper that retired it
    Column("retired_at", UtcDateTime, nullable=True),
    Column("request_id", String(16), ForeignKey("requests.id"), nullable=True),  # the request it started
    Column("shown", String(32), nullable=True),  # what its last update showed: 'too_old' or the request's state
    PrimaryKeyConstraint("channel", "ts"),
    CheckConstraint("retired_why IN ('used', 'too_old')", name="retired_why"),
    Index("ix_deploy_notices_posted_at", "posted_at"),
)
