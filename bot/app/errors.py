"""One error tree for the whole bot. Every error carries a stable `code` (what front ends, scripts and
tests match on) and a sentence for a person (what happened, what to check); no secret ever reaches
either. Nothing here knows a medium: the CLI maps codes to exit codes (bot/cli/exit_codes.py), Slack
to an ephemeral message, MCP to a tool error, HTTP to a status."""

from __future__ import annotations

from datetime import datetime


class AspresetError(Exception):
    """Base of every error a front end knows how to show."""

    code: str = "internal"

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(AspresetError):
    """Bad input or configuration: names the file, field or value and what would be right."""

    code = "bad_input"


class Refused(AspresetError):
    """The request is not allowed (policy, approver rules, freeze window, kill cap)."""

    code = "refused"


class NotAllowed(Refused):
    """This principal may not do this to this request (self-approval, not an approver)."""

    code = "not_allowed"


class NotFound(AspresetError):
    code = "not_found"


class UnknownRequest(NotFound):
    """No request with that id."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no request {request_id!r}: the `requests` command lists them")
        self.request_id = request_id


class LockHeld(Refused):
    """A (host, pool) the request needs is held by another live request: the new one is refused.
    Who holds it travels as fields (front ends read them, never the sentence): the holder's request
    id, its requester's principal id, since when, and `until`, the holder's approval deadline when
    it is waiting for one (None: it runs, and holds the lock until it ends)."""

    code = "locked"

    def __init__(self, host: str, pool: str, holder_request_id: str, holder_requester: str, since: datetime,
                 until: datetime | None = None) -> None:
        waits = f"; it waits for approval until {until.isoformat(timespec='seconds')}" if until else ""
        super().__init__(
            f"{host} / {pool} is locked by {holder_requester} for request {holder_request_id} "
            f"since {since.isoformat(timespec='seconds')}{waits}"
        )
        self.host = host
        self.pool = pool
        self.holder_request_id = holder_request_id
        self.holder_requester = holder_requester
        self.since = since
        self.until = until


class SelfApproval(NotAllowed):
    """The approver is the requester (by principal id or by person). The service refuses this first;
    the store (and a CHECK constraint in the database) refuses it again."""

    def __init__(self, request_id: str, approver: str) -> None:
        super().__init__(f"{approver} asked for request {request_id} and cannot approve it")
        self.request_id = request_id
        self.approver = approver


class StoreUnavailable(AspresetError):
    """The database could not be reached or answered with an error (URL shown without password)."""

    code = "store_unavailable"


class ExecutionError(AspresetError):
    """An operation on one host did not happen as asked."""

    code = "execution_failed"

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.detail = message


class HostUnreachable(ExecutionError):
    code = "host_unreachable"


class NameNotResolved(HostUnreachable):
    """The host's address does not resolve (DNS): nothing on the host itself can be the cause."""


DOCTOR_HINT = "run `aspreset doctor {host}`"  # what a host error advises, outside doctor itself


def without_doctor_hint(detail: str, host_name: str) -> str:
    """A host error as doctor itself shows it: without the advice to run doctor."""
    hint = DOCTOR_HINT.format(host=host_name)
    return detail.replace("; " + hint, "").replace(hint, "")


class AuthenticationFailed(ExecutionError):
    code = "auth_failed"


class InsecureTransport(ExecutionError):
    code = "insecure_transport"


class TimedOut(ExecutionError):
    code = "winrm_timeout"


class ProtocolError(ExecutionError):
    code = "protocol_error"


class ScriptFailed(ExecutionError):
    """The script on the host answered with one of its own error codes (bot/app/results.ErrorCode)."""

    def __init__(self, host: str, code: str, message: str) -> None:
        super().__init__(host, f"{message} [{code}]")
        self.code = code  # the script's own code is the stable one


class DrainFailed(ExecutionError):
    """A site's drain hook (before or after a host restarts) failed or did not answer in time.
    Before: the host was not touched. After: it restarted but may still be out of the load balancer."""

    code = "drain_failed"
