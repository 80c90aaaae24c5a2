"""structlog as JSON lines on stderr (stdout is for results). Secrets never reach a log: nothing
logs a credential, and the redactor below drops any key that looks like one, as a second guard."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = ("password", "secret", "token", "authorization", "credential")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in _SECRET_KEYS):
            event[key] = "[redacted]"
    return event


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    # looked up per logger, not once: sys.stderr may be replaced (test capture, daemon redirection)
    return structlog.PrintLogger(file=sys.stderr)


def configure(level: str | None = None) -> None:
    name = (level or os.environ.get("ASPRESET_LOG_LEVEL") or "warning").upper()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.dict_tracebacks,  # frames as data: a log line, never a printed traceback
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(name, 30)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
