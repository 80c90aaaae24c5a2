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


class _StdlibAsJson(logging.StreamHandler):  # type: ignore[type-arg]
    """The standard library's records (the MCP SDK, uvicorn, urllib3) as the same JSON lines, on the
    current sys.stderr. Being there first also keeps libraries from adding their own handler: the MCP
    SDK's server calls logging.basicConfig with a Rich handler, which does nothing once the root
    logger has one."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream: that flushes the old stream, which may be closed by now
        super().emit(record)


def _stdlib_as_json(level: int) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StdlibAsJson)]:
        root.removeHandler(handler)
    handler = _StdlibAsJson(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                           structlog.processors.TimeStamper(fmt="iso", utc=True), _redact],
    ))
    handler.setLevel(level)
    root.addHandler(handler)


def configure(level: str | None = None) -> None:
    name = (level or os.environ.get("ASPRESET_LOG_LEVEL") or "warning").upper()
    _stdlib_as_json(logging.getLevelNamesMapping().get(name, 30))
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
