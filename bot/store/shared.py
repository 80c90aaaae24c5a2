"""What the replicas of `aspreset serve` share besides requests, in the same database: where each
request's Slack message is (channel and ts: an approval taken by replica B updates the message
replica A posted; an interrupted run's message is updated, not posted anew) and which final state
it last showed, the keys that may be used once (a deploy webhook's signature: a replay to another
replica is refused too), leases (one expiry sweeper per deployment), and Slack's rate limits, which
count per Web API method for the app whichever replica calls: each method's token bucket and the
pause a 429's Retry-After asks for.

`SqlShared` keeps them in SQLite or PostgreSQL (tables in bot/store/schema.py); `MemoryShared` in
one process's memory, for a store that is not SQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import delete, insert, select, update

from bot.store.rules import check_aware
from bot.store.schema import leases, once_keys, slack_messages, slack_rate_limits
from bot.store.sql import SqlStore
from bot.store.sql_unit import Unit, run_unit

T = TypeVar("T")


class Shared(Protocol):
    def remember_message(self, request_id: str, channel: str, ts: str, now: datetime) -> tuple[str, str]:
        """Record the request's message unless one is recorded; returns the recorded one."""
        ...

    def message_of(self, request_id: str) -> tuple[str, str] | None: ...

    def mark_shown(self, request_id: str, state: str) -> bool:
        """The message now shows `state`: True for exactly one caller per state change."""
        ...

    def shown_state(self, request_id: str) -> str | None:
        """The final state the request's message was last marked as showing."""
        ...

    def use_once(self, key: str, now: datetime, keep_s: float) -> bool:
        """True the first time `key` is used within keep_s seconds, across replicas."""
        ...

    def forget(self, key: str) -> None: ...

    def hold_lease(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `owner`; True while it is theirs."""
        ...

    def take_token(self, method: str, now: datetime, bucket: Bucket | None) -> float:
        """0.0 when `method` may be called now (a token of its bucket taken), else the seconds until
        it may: its pause ends, or its next token is there (then nothing is taken)."""
        ...

    def pause(self, method: str, until: datetime, now: datetime) -> None:
        """Nobody calls `method` before `until` (a later pause already set stays), and its bucket is
        empty then: Slack said the app was over the method's limit."""
        ...


@dataclass(frozen=True)
class Bucket:
    """A token bucket: `per_minute` calls a minute, `burst` of them at once."""

    per_minute: float
    burst: float

    def after(self, tokens: float, since: datetime, now: datetime) -> float:
        elapsed = max(0.0, (now - since).total_seconds())  # another replica's clock may be ahead
        return min(self.burst, tokens + elapsed * self.per_minute / 60.0)

    def wait_s(self, tokens: float) -> float:
        return (1.0 - tokens) * 60.0 / self.per_minute


def _take(bucket: Bucket | None, tokens: float, since: datetime, paused_until: datetime | None,
          now: datetime) -> tuple[float, float]:
    """(seconds to wait, tokens left): the rule both kinds of Shared apply."""
    if paused_until is not None and paused_until > now:
        return (paused_until - now).total_seconds(), tokens
    if bucket is None:
        return 0.0, tokens
    tokens = bucket.after(tokens, since, now)
    return (0.0, tokens - 1.0) if tokens >= 1.0 else (bucket.wait_s(tokens), tokens)


class SqlShared:
    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self._url = store.safe_url

    def _write(self, work: Callable[[Unit], T]) -> T:
        # a lost race to insert the same key is retried: the retry sees the winner's row
        return run_unit(self._engine, self._url, work, write=True, retry_integrity=True)

    def remember_message(self, request_id: str, channel: str, ts: str, now: datetime) -> tuple[str, str]:
        check_aware(now)

        def work(unit: Unit) -> tuple[str, str]:
            row = unit.conn.execute(select(slack_messages.c.channel, slack_messages.c.ts)
                                    .where(slack_messages.c.request_id == request_id)).first()
            if row is not None:
                return str(row.channel), str(row.ts)
            unit.conn.execute(insert(slack_messages).values(request_id=request_id, channel=channel, ts=ts,
                                                            posted_at=now))
            return channel, ts

        return self._write(work)

    def message_of(self, request_id: str) -> tuple[str, str] | None:
        def work(unit: Unit) -> tuple[str, str] | None:
            row = unit.conn.execute(select(slack_messages.c.channel, slack_messages.c.ts)
                                    .where(slack_messages.c.request_id == request_id)).first()
            return (str(row.channel), str(row.ts)) if row is not None else None

        return run_unit(self._engine, self._url, work, write=False)

    def mark_shown(self, request_id: str, state: str) -> bool:
        def work(unit: Unit) -> bool:
            changed = unit.conn.execute(
                update(slack_messages)
                .where(slack_messages.c.request_id == request_id)
                .where((slack_messages.c.shown_state.is_(None)) | (slack_messages.c.shown_state != state))
                .values(shown_state=state))
            return bool(changed.rowcount == 1)

        return self._write(work)

    def shown_state(self, request_id: str) -> str | None:
        def work(unit: Unit) -> str | None:
            return unit.conn.execute(select(slack_messages.c.shown_state)
                                     .where(slack_messages.c.request_id == request_id)).scalar()

        return run_unit(self._engine, self._url, work, write=False)

    def use_once(self, key: str, now: datetime, keep_s: float) -> bool:
        check_aware(now)

        def work(unit: Unit) -> bool:
            unit.conn.execute(delete(once_keys).where(once_keys.c.at < now - timedelta(seconds=keep_s)))
            if unit.conn.execute(select(once_keys.c.key).where(once_keys.c.key == key)).first() is not None:
                return False
            unit.conn.execute(insert(once_keys).values(key=key, at=now))
            return True

        return self._write(work)

    def forget(self, key: str) -> None:
        def work(unit: Unit) -> None:
            unit.conn.execute(delete(once_keys).where(once_keys.c.key == key))

        self._write(work)

    def hold_lease(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        check_aware(now)
        until = now + timedelta(seconds=ttl_s)

        def work(unit: Unit) -> bool:
            row = unit.conn.execute(select(leases.c.owner, leases.c.until).where(leases.c.name == name)
                                    .with_for_update()).first()
            if row is None:
                unit.conn.execute(insert(leases).values(name=name, owner=owner, until=until))
                return True
            if row.owner != owner and row.until > now:
                return False
            unit.conn.execute(update(leases).where(leases.c.name == name).values(owner=owner, until=until))
            return True

        return self._write(work)

    def take_token(self, method: str, now: datetime, bucket: Bucket | None) -> float:
        check_aware(now)
        table = slack_rate_limits

        def work(unit: Unit) -> float:
            row = unit.conn.execute(select(table.c.tokens, table.c.at, table.c.paused_until)
                                    .where(table.c.method == method).with_for_update()).first()
            if row is None:
                wait, tokens = _take(bucket, bucket.burst if bucket else 0.0, now, None, now)
                unit.conn.execute(insert(table).values(method=method, tokens=tokens, at=now))
                return wait
            wait, tokens = _take(bucket, float(row.tokens), row.at, row.paused_until, now)
            if wait <= 0.0 and bucket is not None:
                unit.conn.execute(update(table).where(table.c.method == method).values(tokens=tokens, at=now))
            return wait

        return self._write(work)

    def pause(self, method: str, until: datetime, now: datetime) -> None:
        check_aware(until)
        table = slack_rate_limits

        def work(unit: Unit) -> None:
            row = unit.conn.execute(select(table.c.paused_until).where(table.c.method == method)
                                    .with_for_update()).first()
            if row is None:
                unit.conn.execute(insert(table).values(method=method, tokens=0.0, at=now, paused_until=until))
            else:
                later = until if row.paused_until is None or row.paused_until < until else row.paused_until
                unit.conn.execute(update(table).where(table.c.method == method)
                                  .values(tokens=0.0, at=now, paused_until=later))

        self._write(work)


class MemoryShared:
    """The same in one process (a single bot on a store that is not SQL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, tuple[str, str]] = {}
        self._shown: dict[str, str] = {}
        self._once: dict[str, datetime] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._rates: dict[str, tuple[float, datetime, datetime | None]] = {}  # method -> tokens, at, paused

    def remember_message(self, request_id: str, channel: str, ts: str, now: datetime) -> tuple[str, str]:
        with self._lock:
            return self._messages.setdefault(request_id, (channel, ts))

    def message_of(self, request_id: str) -> tuple[str, str] | None:
        with self._lock:
            return self._messages.get(request_id)

    def mark_shown(self, request_id: str, state: str) -> bool:
        with self._lock:
            if request_id not in self._messages or self._shown.get(request_id) == state:
                return False
            self._shown[request_id] = state
            return True

    def shown_state(self, request_id: str) -> str | None:
        with self._lock:
            return self._shown.get(request_id)

    def use_once(self, key: str, now: datetime, keep_s: float) -> bool:
        with self._lock:
            for old in [k for k, at in self._once.items() if at < now - timedelta(seconds=keep_s)]:
                del self._once[old]
            if key in self._once:
                return False
            self._once[key] = now
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._once.pop(key, None)

    def hold_lease(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[name] = (owner, now + timedelta(seconds=ttl_s))
            return True

    def take_token(self, method: str, now: datetime, bucket: Bucket | None) -> float:
        with self._lock:
            tokens, at, paused = self._rates.get(method, (bucket.burst if bucket else 0.0, now, None))
            wait, left = _take(bucket, tokens, at, paused, now)
            if wait <= 0.0:
                self._rates[method] = (left, now, paused)
            return wait

    def pause(self, method: str, until: datetime, now: datetime) -> None:
        with self._lock:
            paused = self._rates.get(method, (0.0, now, None))[2]
            self._rates[method] = (0.0, now, until if paused is None or paused < until else paused)
