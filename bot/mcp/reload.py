"""A running server reads its policy and inventory again when their files change: a freeze added to
the policy holds from the next tool call on. A file that no longer reads fails closed (every tool
says what to fix, with the file and line) until it is fixed; the last good one is never used for a
file someone has changed."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from bot.app.service import Service
from bot.bootstrap import check_environments
from bot.config import Settings


class PolicyFiles:
    """The files behind one Service, looked at before each call (reading two small files costs
    less than one WinRM request; content, not modification time, so a quick rewrite counts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._seen = self._digests()

    def _digests(self) -> tuple[str | None, ...]:
        return tuple(_digest(path) for path in (self.settings.policy_path, self.settings.inventory_path))

    def refresh(self, service: Service) -> None:
        """Give `service` the files' current contents if they changed; ConfigError (file, line, field)
        if they no longer read, and then again on every call until they do."""
        with self._lock:
            now = self._digests()
            if now == self._seen:
                return
            policy, inventory = self.settings.policy(), self.settings.inventory()
            check_environments(policy, inventory, self.settings)
            service.policy = policy
            service.inventory = inventory
            self._seen = now


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable: {error.strerror}"
