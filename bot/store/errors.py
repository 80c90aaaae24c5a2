"""The store's errors, in the project's hierarchy. Messages never carry a password or a secret."""

from __future__ import annotations

from datetime import datetime

from bot.errors import AspresetError


class LockHeld(AspresetError):
    """A (host, pool) the request needs is held by another live request: the new one is refused."""

    exit_code = 3

    def __init__(self, host: str, pool: str, holder_request_id: str, holder_requester: str, since: datetime) -> None:
        super().__init__(
            f"{host} / {pool} is locked by {holder_requester} for request {holder_request_id} "
            f"since {since.isoformat(timespec='seconds')}"
        )
        self.host = host
        self.pool = pool
        self.holder_request_id = holder_request_id
        self.holder_requester = holder_requester
        self.since = since


class UnknownRequest(AspresetError):
    """No request with that id."""

    exit_code = 2

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no request {request_id!r}: `aspreset requests` lists them")
        self.request_id = request_id


class SelfApproval(AspresetError):
    """The approver is the requester (by principal id or by person). The service refuses this first;
    the store (and a CHECK constraint in the database) refuses it again."""

    exit_code = 3

    def __init__(self, request_id: str, approver: str) -> None:
        super().__init__(f"{approver} asked for request {request_id} and cannot approve it")
        self.request_id = request_id
        self.approver = approver


class StoreUnavailable(AspresetError):
    """The database could not be reached or answered with an error (URL shown without password)."""

    exit_code = 1
