"""WinRM sessions kept per host and reused across operations (and across requests in a long-lived
process), so the TCP connection and NTLM's handshake (bot.winrm.negotiate) are paid once per host,
not once per operation; with kept shells, the remote shell too (Create and Delete once, not per
operation).

A session (`bot.winrm.transport.HostSession`: a pywinrm Protocol with its socket watch) holds, with
message encryption, the NTLM security context that seals every message: it must never be used by
two threads at once (pywinrm #277). `SessionCache.take` hands a session out to one caller; a second
caller for the same host at the same moment gets a session of its own. Sessions idle longer than
`idle_s` (below the server's keep-alive: HTTP.sys drops idle connections after 120 s) and sessions
that saw a failure are closed, never reused. Keys hold a digest of the password, never the password,
so a rotated password gets a new session.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable

from bot.winrm.credentials import Credentials
from bot.winrm.transport import HostSession
from policies.inventory import Host

SessionKey = tuple[str, str, str, str, str]


def session_key(host_name: str, host: Host, credentials: Credentials) -> SessionKey:
    secret = (credentials.password or "") + "\0" + (credentials.cert_key_pem or "")
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return host_name, host.endpoint, host.transport, credentials.username or "", digest


class SessionCache:
    def __init__(self, *, per_host: int = 2, idle_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_host = per_host
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[SessionKey, list[tuple[float, HostSession]]] = {}
        self._keys: dict[int, SessionKey] = {}  # id(session) -> key, while it is lent out
        self.built = 0  # sessions made (a benchmark reads it: one per host when reuse works)

    def take(self, key: SessionKey, build: Callable[[], HostSession]) -> HostSession:
        """An idle session for `key`, else a new one from `build`; `reused` says which."""
        expired: list[HostSession] = []
        found: HostSession | None = None
        with self._lock:
            idle = self._idle.get(key, [])
            now = self._clock()
            while idle and found is None:
                since, session = idle.pop()
                if now - since > self.idle_s:
                    expired.append(session)
                else:
                    found = session
        for session in expired:
            close(session)
        if found is None:
            found = build()
            with self._lock:
                self.built += 1
        else:
            found.reused = True
        with self._lock:
            self._keys[id(found)] = key
        return found

    def give_back(self, session: HostSession, *, reusable: bool) -> None:
        """Keep it for the next operation on its host, or close it (after a failure or a cut socket)."""
        with self._lock:
            key = self._keys.pop(id(session), None)
            if reusable and key is not None:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.per_host:
                    idle.append((self._clock(), session))
                    return
        close(session)

    def close(self) -> None:
        """Delete every kept shell and close every session (WinRMExecutor.close: its owner is done)."""
        with self._lock:
            every = [s for idle in self._idle.values() for _, s in idle]
            self._idle.clear()
        for session in every:
            close(session)


def close(session: HostSession) -> None:
    """Delete the kept shell (best effort: WinRM drops it after its idle timeout anyway), then the session."""
    if session.kept_shell is not None:
        shell, session.kept_shell = session.kept_shell, None
        with contextlib.suppress(Exception):
            session.protocol.close_shell(shell, close_session=False)
    session.close()
