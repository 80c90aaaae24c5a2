"""WinRM sessions kept per host and reused across operations (and across requests in a long-lived
process), so the TCP connection and NTLM's handshake (three HTTP requests) are paid once per host,
not once per operation.

A pywinrm `Protocol` holds one requests session and, with message encryption, the NTLM security
context that seals every message: it must never be used by two threads at once (pywinrm #277).
`SessionCache.lease` hands a session out exclusively; a second caller for the same host at the same
moment gets a session of its own. Sessions idle longer than `idle_s` (below the server's keep-alive
timeout: HTTP.sys drops idle connections after 120 s) and sessions that saw a failure are closed,
never reused. Keys hold a digest of the password, never the password, so a rotated password gets a
new session.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from winrm.protocol import Protocol

from bot.winrm.credentials import Credentials
from policies.inventory import Host

SessionKey = tuple[str, str, str, str, str]


def session_key(host_name: str, host: Host, credentials: Credentials) -> SessionKey:
    secret = (credentials.password or "") + "\0" + (credentials.cert_key_pem or "")
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return host_name, host.endpoint, host.transport, credentials.username or "", digest


@dataclass
class Lease:
    """One session, used by one thread until `release` (keep it) or `discard` (close it)."""

    protocol: Protocol
    reused: bool  # it had served an earlier operation: a failure before anything ran may be its staleness
    _cache: SessionCache
    _key: SessionKey
    _done: bool = field(default=False)

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._cache._put_back(self._key, self.protocol)

    def discard(self) -> None:
        if not self._done:
            self._done = True
            close(self.protocol)


class SessionCache:
    def __init__(self, *, per_host: int = 2, idle_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_host = per_host
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[SessionKey, list[tuple[float, Protocol]]] = {}
        self.built = 0  # sessions made (a benchmark reads it: one per host when reuse works)

    def lease(self, key: SessionKey, build: Callable[[], Protocol], *, fresh: bool = False) -> Lease:
        """An idle session for `key` (unless `fresh`), else a new one from `build`."""
        expired: list[Protocol] = []
        found: Protocol | None = None
        with self._lock:
            idle = self._idle.get(key, [])
            now = self._clock()
            while idle and found is None:
                since, protocol = idle.pop()
                if fresh or now - since > self.idle_s:
                    expired.append(protocol)
                else:
                    found = protocol
        for protocol in expired:
            close(protocol)
        if found is not None:
            return Lease(found, True, self, key)
        with self._lock:
            self.built += 1
        return Lease(build(), False, self, key)

    def _put_back(self, key: SessionKey, protocol: Protocol) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.per_host:
                idle.append((self._clock(), protocol))
                return
        close(protocol)

    def close(self) -> None:
        with self._lock:
            every = [p for idle in self._idle.values() for _, p in idle]
            self._idle.clear()
        for protocol in every:
            close(protocol)


def close(protocol: Protocol) -> None:
    with contextlib.suppress(Exception):
        protocol.transport.close_session()
