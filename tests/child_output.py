"""Reading a child process's output in tests: wait on the pipe (select) with a deadline, never by
sleeping. Reads the raw descriptor, so no buffered line hides from select."""

from __future__ import annotations

import os
import re
import selectors
import time
from typing import IO


def read_until(stream: IO[bytes], pattern: bytes, deadline_s: float = 60.0) -> re.Match[bytes]:
    """Read until the regular expression `pattern` matches what was read; returns the match."""
    seen = b""
    deadline = time.monotonic() + deadline_s
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while not (found := re.search(pattern, seen)):
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} within {deadline_s} s; got: {seen.decode(errors='replace')[-2000:]}"
            if selector.select(timeout=left):
                chunk = os.read(stream.fileno(), 65536)
                assert chunk, f"the output closed before {pattern!r}: {seen.decode(errors='replace')[-2000:]}"
                seen += chunk
    return found
