"""structlog on stderr (stdout is for results): JSON lines, or readable lines in a terminal.
Secrets never reach a log: nothing logs a credential, and the redactor below drops any key that
looks like one, as a second guard."""

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
    """Log lines on stderr: readable lines when stderr is a terminal, JSON lines otherwise or with
    ASPRESET_LOG_FORMAT=json (ASPRESET_LOG_FORMAT=console forces readable ones). The level is
    ASPRESET_LOG_LEVEL (debug, info, warning, error; default warning)."""
    name = (level or os.environ.get("ASPRESET_LOG_LEVEL") or "warning").upper()
    chosen = os.environ.get("ASPRESET_LOG_FORMAT", "").strip().lower()
    readable = chosen == "console" or (chosen != "json" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors="NO_COLOR" not in os.environ and sys.stderr.isatty())
        if readable else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.dict_tracebacks,  # frames as data: a log line, never a printed traceback
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(name, 30)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
