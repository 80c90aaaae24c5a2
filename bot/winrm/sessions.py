"""WinRM sessions kept per host and reused across operations, so the connection, NTLM's handshake
and (with kept shells) the remote shell are paid once per host, not once per operation.

A session holds the NTLM context that seals its messages, so `take` lends it to one caller at a
time (pywinrm #277); one that saw a failure is closed, never reused. A kept shell counts against
the host's MaxShellsPerUser until deleted, so nothing is left to the server's two-hour idle
timeout: a session idle longer than `idle_s` (below HTTP.sys's 120 s keep-alive) is closed, its
shell deleted, by the cache's own thread, and `close()` does it for every kept session at once.
Keys hold a digest of the password, never the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from bot.winrm.credentials import Credentials
from bot.winrm.deadline import Deadline
from bot.winrm.transport import HostSession
from policies.inventory import Host

SessionKey = tuple[str, str, str, str, str]

CLOSING_THREADS = 32  # hosts told at once when many sessions close together


def session_key(host_name: str, host: Host, credentials: Credentials) -> SessionKey:
    secret = (credentials.password or "") + "\0" + (credentials.cert_key_pem or "")
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return host_name, host.endpoint, host.transport, credentials.username or "", digest


class SessionCache:
    def __init__(
        self,
        *,
        per_host: int = 2,
        idle_s: float = 90.0,  # outlasts the watch's default 60 s between probes (docs/watch.md)
        close_within_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_host = per_host
        self.idle_s = idle_s
        self.close_within_s = close_within_s
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a session was kept, or the cache closed
        self._idle: dict[SessionKey, list[tuple[float, HostSession]]] = {}
        self._keys: dict[int, SessionKey] = {}  # id(session) -> key, while it is lent out
        self._reaper: threading.Thread | None = None
        self._closed = False
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
                if now - since > self.idle_s:  # its closing is due: not handed out whatever the timer does
                    expired.append(session)
                else:
                    found = session
            if not idle:
                self._idle.pop(key, None)
        close_all(expired, self.close_within_s)
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
        """Keep it for the next operation on its host, or close it (after a failure or a cut socket,
        or once the cache is closed)."""
        with self._lock:
            key = self._keys.pop(id(session), None)
            if reusable and key is not None and not self._closed:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.per_host:
                    idle.append((self._clock(), session))
                    self._watch_idle()
                    return
        close(session, self.close_within_s)

    def close(self) -> None:
        """Delete every kept shell and close every kept session, the hosts in parallel, each within
        `close_within_s` (WinRMExecutor.close: its owner is done). Sessions handed back afterwards
        are closed at once."""
        with self._lock:
            self._closed = True
            every = [s for idle in self._idle.values() for _, s in idle]
            self._idle.clear()
            self._changed.notify_all()
        close_all(every, self.close_within_s)

    @property
    def kept(self) -> int:
        """Sessions kept idle for reuse."""
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())

    # ---- closing idle sessions on time ------------------------------------------------------------

    def _watch_idle(self) -> None:
        """Called with the lock held: a thread closes sessions as they idle out, while there are any."""
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="winrm-idle-sessions", daemon=True)
            self._reaper.start()
        self._changed.notify_all()

    def _reap(self) -> None:
        while True:
            with self._lock:
                expired = self._wait_for_expired()
                if expired is None:  # nothing kept any more, or the cache closed
                    self._reaper = None
                    return
            close_all(expired, self.close_within_s)

    def _wait_for_expired(self) -> list[HostSession] | None:
        while not self._closed and any(self._idle.values()):
            due = min(since for idle in self._idle.values() for since, _ in idle) + self.idle_s
            wait = due - self._clock()
            if wait >= 0:
                self._changed.wait(wait + 0.01)
                continue
            now, expired = self._clock(), []
            for key in list(self._idle):
                keep = [(since, s) for since, s in self._idle[key] if now - since <= self.idle_s]
                expired += [s for since, s in self._idle[key] if now - since > self.idle_s]
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
            return expired
        return None


def close_all(sessions: Sequence[HostSession], within_s: float) -> None:
    """Close `sessions`, up to CLOSING_THREADS hosts at once."""
    if len(sessions) <= 1:
        for session in sessions:
            close(session, within_s)
        return
    with ThreadPoolExecutor(min(CLOSING_THREADS, len(sessions)), thread_name_prefix="winrm-close") as pool:
        list(pool.map(lambda s: close(s, within_s), sessions))


def close(session: HostSession, within_s: float = 5.0) -> None:
    """Delete the kept shell (best effort, within `within_s`: a host that does not answer drops it
    after its idle timeout), then close the session."""
    if session.kept_shell is not None:
        shell, session.kept_shell = session.kept_shell, None
        with contextlib.suppress(Exception), Deadline(within_s, session.watch, setting="cleanup_budget_s") as deadline:
            deadline.phase = "deleting the shell"
            session.bind(deadline)
            session.protocol.close_shell(shell, close_session=False)
    session.close()
