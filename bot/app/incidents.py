"""The last-resort guard every edge shares (`reply_for`): a known error becomes an ErrorView with its
stable code; an unexpected exception is logged in full with a short incident id, and the person
sees one sentence with that id, never a traceback."""

from __future__ import annotations

import secrets

import structlog

from bot.app.errors import AspresetError, LockHeld
from bot.app.views import ErrorView, LockHolderView
from commands.limits import LimitExceeded

log = structlog.get_logger("aspreset.incident")

INTERNAL_SENTENCE = "internal error (incident {incident}); nothing further was run"


def reply_for(error: Exception, **context: object) -> ErrorView:
    """What the person sees for any exception that reached an edge."""
    if isinstance(error, AspresetError):
        return error_view(error)
    if isinstance(error, LimitExceeded):  # the same limits whichever front end built the command
        return ErrorView(code="bad_input", message=error.message)
    return incident_view(error, **context)


def error_view(error: AspresetError) -> ErrorView:
    if isinstance(error, LockHeld):
        holder = LockHolderView(request_id=error.holder_request_id, requester=error.holder_requester,
                                host=error.host, pool=error.pool, since=error.since, until=error.until)
        return ErrorView(code=error.code, message=str(error), holder=holder)
    return ErrorView(code=error.code, message=str(error))


def incident_view(error: BaseException, **context: object) -> ErrorView:
    """Log `error` with its traceback under a new incident id; the view says only the id."""
    incident = secrets.token_hex(4)
    log.error("unexpected_error", incident=incident, error_type=type(error).__name__, exc_info=error, **context)
    return ErrorView(code="internal", message=INTERNAL_SENTENCE.format(incident=incident), incident=incident)
