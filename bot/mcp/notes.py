"""An assistant's free-text note. It goes into the audit trail and in front of approvers, so it is
one line of text (no newline or control character that could forge a line of the answer), and it
cannot smuggle in what the scope refuses: a note asking for IISRESET or restarting IIS is refused
with the narrow alternative, as the chat parser refuses the command."""

from __future__ import annotations

import re

from commands.limits import LimitExceeded
from commands.model import ServerWideRequest
from commands.parser import server_wide_action

# Characters that end or rewrite a line in some renderer: C0/C1 controls and Unicode line breaks.
LINE_BREAKERS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
ONE_LINE_PATTERN = f"^[^{LINE_BREAKERS}]*$"

# What people write in prose for a server-wide action, beyond the commands the parser knows.
_PROSE = (
    (re.compile(r"\b(restart|reset|recycle|bounce|stop)(ing|s)?\s+(the\s+)?(whole\s+)?(iis|w3svc|was)\b", re.I),
     "restarting IIS"),
    (re.compile(r"\biis\s+(reset|restart)\b", re.I), "IISRESET"),
    (re.compile(r"\b(restart|reboot|bounce)(ing|s)?\s+(the\s+)?(whole\s+)?(server|machine|box|host)s?\b", re.I),
     "rebooting the server"),
    (re.compile(r"\bkill(ing|s)?\s+(all|every)\s+(the\s+)?(w3wp|worker)", re.I), "killing every worker process"),
)


def check_note(note: str | None) -> ServerWideRequest | None:
    """The server-wide action a note asks for, if any (the caller answers it as that request:
    refused); LimitExceeded for a note that is not one line."""
    if note is None:
        return None
    if not re.fullmatch(ONE_LINE_PATTERN, note):
        raise LimitExceeded("note must be one line of text: newlines and control characters are not allowed")
    found = server_wide_action(note)
    if found is not None:
        return found
    for pattern, what in _PROSE:
        if pattern.search(note):
            return ServerWideRequest(text=note, what=what)
    return None
