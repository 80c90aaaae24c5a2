"""Each posted deploy notice and what became of its button, shared by the serve replicas: what the
notice said (its text and blocks without the button, enough to show it retired without the message
Slack sends with a click: the sweeper has none), when it was posted and what it offered, and once
retired why (`used`, or `too_old`), by whom, when and the request it started, and what its message
last showed. Retiring is once across replicas (`retire` is true for exactly one caller), and so is
each update of the message (`mark_shown`).

`SqlNotices` keeps them in SQLite or PostgreSQL (table `deploy_notices`, bot/store/schema.py);
`MemoryNotices` in one process's memory, for a store that is not SQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, insert, or_, select, update

from bot.app.ports import Store
from bot.store.rules import check_aware
from bot.store.schema import deploy_notices
from bot.store.sql import SqlStore
from bot.store.sql_unit import Unit, run_unit

T = TypeVar("T")
USED, TOO_OLD = "used", "too_old"


@dataclass(frozen=True)
class PostedNotice:
    channel: str
    ts: str
    site: str
    version: str
    rung: str  # the restart its button offered
    posted_at: datetime
    text: str
    blocks: list[dict[str, Any]]  # as posted, without the button
    retired_why: str | None = None  # USED or TOO_OLD; None while it offers the button
    retired_by: str | None = None
    retired_at: datetime | None = None
    request_id: str | None = None  # the request its button started
    shown: str | None = None  # what its message last showed: TOO_OLD or the request's state

    @property
    def offered(self) -> bool:
        return self.retired_why is None


class PostedNotices(Protocol):
    def record(self, notice: PostedNotice) -> None: ...

    def get(self, channel: str, ts: str) -> PostedNotice | None: ...

    def retire(self, channel: str, ts: str, why: str, by: str, now: datetime) -> bool:
        """Take the button away for `why`: True for exactly one caller, while it was still offered."""
        ...

    def reoffer(self, channel: str, ts: str, by: str) -> None:
        """`by` used the button and it started no request (the policy refused it): offer it again."""
        ...

    def started(self, channel: str, ts: str, request_id: str) -> None: ...

    def mark_shown(self, channel: str, ts: str, was: str | None, shown: str | None) -> bool:
        """The message now shows `shown` instead of `was`: True for exactly one caller."""
        ...

    def unsettled(self, posted_before: datetime, settled: Collection[str], limit: int = 100) -> list[PostedNotice]:
        """Notices still offering the button that were posted before `posted_before`, and retired ones
        whose message shows none of `settled` yet; oldest first."""
        ...


def notices_for(store: Store) -> PostedNotices:
    """The notices kept beside the store's requests: in its database, or in memory."""
    return SqlNotices(store) if isinstance(store, SqlStore) else MemoryNotices()


def _notice(row: Any) -> PostedNotice:
    return PostedNotice(channel=row.channel, ts=row.ts, site=row.site, version=row.version, rung=row.rung,
                        posted_at=row.posted_at, text=row.text, blocks=list(row.blocks), retired_why=row.retired_why,
                        retired_by=row.retired_by, retired_at=row.retired_at, request_id=row.request_id,
                        shown=row.shown)


class SqlNotices:
    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self._url = store.safe_url

    def _write(self, work: Callable[[Unit], T]) -> T:
        return run_unit(self._engine, self._url, work, write=True)

    def _one(self, channel: str, ts: str) -> Any:
        return (deploy_notices.c.channel == channel) & (deploy_notices.c.ts == ts)

    def record(self, notice: PostedNotice) -> None:
        check_aware(notice.posted_at)

        def work(unit: Unit) -> None:
            unit.conn.execute(insert(deploy_notices).values(
                channel=notice.channel, ts=notice.ts, site=notice.site, version=notice.version, rung=notice.rung,
                posted_at=notice.posted_at, text=notice.text, blocks=notice.blocks))

        self._write(work)

    def get(self, channel: str, ts: str) -> PostedNotice | None:
        def work(unit: Unit) -> PostedNotice | None:
            row = unit.conn.execute(select(deploy_notices).where(self._one(channel, ts))).first()
            return _notice(row) if row is not None else None

        return run_unit(self._engine, self._url, work, write=False)

    def retire(self, channel: str, ts: str, why: str, by: str, now: datetime) -> bool:
        check_aware(now)

        def work(unit: Unit) -> bool:
            changed = unit.conn.execute(
                update(deploy_notices).where(self._one(channel, ts)).where(deploy_notices.c.retired_why.is_(None))
                .values(retired_why=why, retired_by=by, retired_at=now))
            return bool(changed.rowcount == 1)

        return self._write(work)

    def reoffer(self, channel: str, ts: str, by: str) -> None:
        def work(unit: Unit) -> None:
            unit.conn.execute(
                update(deploy_notices).where(self._one(channel, ts)).where(deploy_notices.c.retired_why == USED)
                .where(deploy_notices.c.retired_by == by).where(deploy_notices.c.request_id.is_(None))
                .values(retired_why=None, retired_by=None, retired_at=None))

        self._write(work)

    def started(self, channel: str, ts: str, request_id: str) -> None:
        def work(unit: Unit) -> None:
            unit.conn.execute(update(deploy_notices).where(self._one(channel, ts)).values(request_id=request_id))

        self._write(work)

    def mark_shown(self, channel: str, ts: str, was: str | None, shown: str | None) -> bool:
        column = deploy_notices.c.shown

        def work(unit: Unit) -> bool:
            changed = unit.conn.execute(update(deploy_notices).where(self._one(channel, ts))
                                        .where(column.is_(None) if was is None else column == was)
                                        .values(shown=shown))
            return bool(changed.rowcount == 1)

        return self._write(work)

    def unsettled(self, posted_before: datetime, settled: Collection[str], limit: int = 100) -> list[PostedNotice]:
        check_aware(posted_before)
        table = deploy_notices
        still_offered = and_(table.c.retired_why.is_(None), table.c.posted_at < posted_before)
        not_shown = and_(table.c.retired_why.is_not(None), or_(table.c.shown.is_(None), table.c.shown.not_in(settled)))

        def work(unit: Unit) -> list[PostedNotice]:
            rows = unit.conn.execute(select(table).where(or_(still_offered, not_shown))
                                     .order_by(table.c.posted_at, table.c.ts).limit(limit))
            return [_notice(row) for row in rows]

        return run_unit(self._engine, self._url, work, write=False)


class MemoryNotices:
    """The same in one process (a single bot on a store that is not SQL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notices: dict[tuple[str, str], PostedNotice] = {}

    def record(self, notice: PostedNotice) -> None:
        with self._lock:
            if (notice.channel, notice.ts) in self._notices:
                raise ValueError(f"deploy notice {notice.channel} {notice.ts} is already recorded")
            self._notices[(notice.channel, notice.ts)] = notice

    def get(self, channel: str, ts: str) -> PostedNotice | None:
        with self._lock:
            return self._notices.get((channel, ts))

    def _change(self, channel: str, ts: str, when: Callable[[PostedNotice], bool], **values: Any) -> bool:
        with self._lock:
            notice = self._notices.get((channel, ts))
            if notice is None or not when(notice):
                return False
            self._notices[(channel, ts)] = replace(notice, **values)
            return True

    def retire(self, channel: str, ts: str, why: str, by: str, now: datetime) -> bool:
        return self._change(channel, ts, lambda n: n.offered, retired_why=why, retired_by=by, retired_at=now)

    def reoffer(self, channel: str, ts: str, by: str) -> None:
        self._change(channel, ts, lambda n: n.retired_why == USED and n.retired_by == by and n.request_id is None,
                     retired_why=None, retired_by=None, retired_at=None)

    def started(self, channel: str, ts: str, request_id: str) -> None:
        self._change(channel, ts, lambda n: True, request_id=request_id)

    def mark_shown(self, channel: str, ts: str, was: str | None, shown: str | None) -> bool:
        return self._change(channel, ts, lambda n: n.shown == was, shown=shown)

    def unsettled(self, posted_before: datetime, settled: Collection[str], limit: int = 100) -> list[PostedNotice]:
        with self._lock:
            found = [n for n in self._notices.values()
                     if (n.offered and n.posted_at < posted_before) or (not n.offered and n.shown not in settled)]
        return sorted(found, key=lambda n: (n.posted_at, n.ts))[:limit]
