"""The limits on what a person may ask, defined once. The command types check them when they are
made (commands.model), so chat, the CLI, MCP and the deploy webhook refuse the same inputs with
the same sentence; the inventory uses the same name rule for its site and host names."""

from __future__ import annotations

import re

MAX_TEXT = 4000
"""A whole chat command, in characters."""
MAX_NAME = 63
"""A site or host name (a DNS label's length)."""
NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME - 1}}}")
MAX_REASON = 500
"""A free-text reason or denial note."""
MAX_CHANGED_FILES = 500
"""Paths given with --changed in one request (or listed by one deploy notice)."""
MAX_PATH = 400
"""One changed path: Windows' classic MAX_PATH is 260; a UNC prefix and a deep tree get some room."""
MAX_REQUEST_ID = 40


class LimitExceeded(ValueError):
    """An input over one of the limits. The message names the input, its size and the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_name(kind: str, value: str) -> None:
    if len(value) > MAX_NAME:
        raise LimitExceeded(f"the {kind} name is {len(value)} characters long; {kind} names are at most {MAX_NAME}")
    if not NAME_PATTERN.fullmatch(value):
        raise LimitExceeded(
            f"{kind} name {value!r} is not a name: letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


def check_reason(value: str | None, what: str = "--reason") -> None:
    if value is not None and len(value) > MAX_REASON:
        raise LimitExceeded(f"{what} is {len(value)} characters long; at most {MAX_REASON} are kept, so shorten it")
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise LimitExceeded(f"{what} {value[:40]!r} contains a newline or control character: give it on one line")


def check_changed(paths: tuple[str, ...]) -> None:
    if len(paths) > MAX_CHANGED_FILES:
        raise LimitExceeded(
            f"--changed names {len(paths)} files; at most {MAX_CHANGED_FILES} are planned per request: give the "
            "folders that changed (bin/, App_Data/) or split the request"
        )
    for path in paths:
        if not path.strip():
            raise LimitExceeded("--changed got an empty path")
        if len(path) > MAX_PATH:
            raise LimitExceeded(f"--changed path {path[:40]!r}... is {len(path)} characters long; at most {MAX_PATH}")
        if any(ord(c) < 32 for c in path):
            raise LimitExceeded(f"--changed path {path[:40]!r} contains a control character")


def check_request_id(value: str) -> None:
    if len(value) > MAX_REQUEST_ID or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise LimitExceeded(f"{value[:MAX_REQUEST_ID]!r} is not a request id, e.g. r-7k2m9q; `requests` lists them")
