"""Drain hooks (the DrainHooks port): a site's command or HTTP call before and after each host
restarts, tied to no load-balancer vendor. A command runs without a shell, its placeholders filled
per argument (no text is ever parsed by a shell); an HTTP call is one request. Both are bounded by
the hook's timeout. Messages name the program or the URL without its query string (which may hold
a token), never the output in full."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from bot.app.errors import DrainFailed
from policies.inventory import DrainHook


class ProcessAndHttpHooks:
    def run(self, hook: DrainHook, values: Mapping[str, str]) -> None:
        host, phase = values.get("host", "?"), values.get("phase", "?")
        if hook.command is not None:
            self._command([fill(part, values) for part in hook.command], hook.timeout_s, host, phase)
        else:
            assert hook.url is not None
            self._http(hook.method, fill(hook.url, values), hook.timeout_s, host, phase)

    def _command(self, argv: list[str], timeout_s: float, host: str, phase: str) -> None:
        what = f"the {phase} hook `{argv[0]}`"
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise DrainFailed(host, f"{what} did not finish within {timeout_s:g} s (it was killed)") from None
        except OSError as error:
            raise DrainFailed(host, f"{what} could not start ({error.strerror or type(error).__name__})") from None
        if done.returncode != 0:
            said = _first_line(done.stderr) or _first_line(done.stdout) or "no output"
            raise DrainFailed(host, f"{what} exited with code {done.returncode}: {said}")

    def _http(self, method: str, url: str, timeout_s: float, host: str, phase: str) -> None:
        parts = urlsplit(url)
        what = f"the {phase} hook {method} {parts.scheme}://{parts.netloc}{parts.path}"
        try:
            answer = requests.request(method, url, timeout=timeout_s, allow_redirects=False)
        except requests.Timeout:
            raise DrainFailed(host, f"{what} did not answer within {timeout_s:g} s") from None
        except requests.RequestException as error:
            raise DrainFailed(host, f"{what} failed ({type(error).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise DrainFailed(host, f"{what} answered HTTP {answer.status_code}")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace the known {placeholders}; the inventory refuses unknown ones at load."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _first_line(output: bytes, limit: int = 200) -> str:
    lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""
