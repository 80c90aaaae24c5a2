"""The bot's own HTTP warm-up (the `none` rung, where nothing runs on the host but a read): the adapter
behind the core's `Warmup` port."""

from __future__ import annotations

import time

import requests


def http_warmup(url: str, timeout_s: float = 30.0) -> tuple[int | None, int]:
    """GET the warm-up URL from the bot (used for the `none` rung). Any HTTP answer counts."""
    started = time.monotonic()
    try:
        status: int | None = requests.get(url, timeout=timeout_s, allow_redirects=False).status_code
    except requests.RequestException:
        status = None
    return status, int((time.monotonic() - started) * 1000)
