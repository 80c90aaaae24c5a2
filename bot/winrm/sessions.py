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
    shell_id: str | None = None  # a remote shell kept open with the session (WinRMExecutor keep_shells)
    _done: bool = field(default=False)

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._cache._put_back(self._key, self.protocol, self.shell_id)

    def discard(self) -> None:
        if not self._done:
            self._done = True
            close(self.protocol, self.shell_id)


class SessionCache:
    def __init__(self, *, per_host: int = 2, idle_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_host = per_host
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[SessionKey, list[tuple[float, Protocol, str | None]]] = {}
        self.built = 0  # sessions made (a benchmark reads it: one per host when reuse works)

    def lease(self, key: SessionKey, build: Callable[[], Protocol], *, fresh: bool = False) -> Lease:
        """An idle session for `key` (unless `fresh`), else a new one from `build`."""
        expired: list[tuple[Protocol, str | None]] = []
        found: tuple[Protocol, str | None] | None = None
        with self._lock:
            idle = self._idle.get(key, [])
            now = self._clock()
            while idle and found is None:
                since, protocol, shell_id = idle.pop()
                if fresh or now - since > self.idle_s:
                    expired.append((protocol, shell_id))
                else:
                    found = protocol, shell_id
        for protocol, shell_id in expired:
            close(protocol, shell_id)
        if found is not None:
            return Lease(found[0], True, self, key, shell_id=found[1])
        with self._lock:
            self.built += 1
        return Lease(build(), False, self, key)

    def _put_back(self, key: SessionKey, protocol: Protocol, shell_id: str | None) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.per_host:
                idle.append((self._clock(), protocol, shell_id))
                return
        close(protocol, shell_id)

    def close(self) -> None:
        """Delete every kept shell and close every session (a process that ends calls this)."""
        with self._lock:
            every = [(p, shell) for idle in self._idle.values() for _, p, shell in idle]
            self._idle.clear()
        for protocol, shell_id in every:
            close(protocol, shell_id)


def close(protocol: Protocol, shell_id: str | None = None) -> None:
    """Delete the kept shell (best effort: WinRM drops it after its idle timeout anyway), then the session."""
    if shell_id is not None:
        with contextlib.suppress(Exception):
            protocol.close_shell(shell_id, close_session=False)
    with contextlib.suppress(Exception):
        protocol.transport.close_session()
