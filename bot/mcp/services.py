"""Where the tools get the core and who they act for. The service is built on first use and kept;
while it cannot be built (the policy, inventory or store cannot be read), every tool fails closed:
nothing is planned, recorded or run, and the error says what to fix."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from bot.app.errors import ConfigError
from bot.app.service import Service
from policies.identity import Principal

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

PrincipalSource = Callable[[], Principal]


class ServiceSource:
    """Builds the Service once, the first time a tool needs it; a failed build is tried again on
    the next call (someone may have fixed the file), and until then nothing runs."""

    def __init__(self, build: Callable[[], Service]) -> None:
        self._build = build
        self._service: Service | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, service: Service) -> ServiceSource:
        source = cls(lambda: service)
        source._service = service
        return source

    def get(self) -> Service:
        """The service, with its policy and inventory as their files say now (Service.refresh: what
        it raises fails the call closed)."""
        with self._lock:
            if self._service is None:
                self._service = self._build()
            service = self._service
        service.refresh()
        return service


def assistant(name: str) -> Principal:
    """The principal `mcp:NAME` an MCP client acts as. It can request; it can never approve."""
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"MCP principal name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (it becomes mcp:{name})"
        )
    return Principal(id=f"mcp:{name}")


def fixed(principal: Principal) -> PrincipalSource:
    """One principal for every call (stdio: the process is the client)."""
    return lambda: principal
