"""NTLM for WinRM over http with message encryption, in two HTTP requests instead of four.

pywinrm's way (requests_ntlm, then an empty message to set up encryption) costs a new session four
requests before its first real one: an anonymous POST to draw the 401, NEGOTIATE, AUTHENTICATE on an
empty body, then the real message. Windows' own clients, like the Ruby WinRM gem did for years,
send NEGOTIATE on the first request and AUTHENTICATE with the first sealed message: Windows
completes the context on that request and decrypts its body with it (OMI had to learn to accept
the same: https://github.com/Microsoft/omi/pull/577; docs/winrm.md). So a new session is:

1. POST, empty body, `Authorization: Negotiate <NEGOTIATE>`  -> 401 carrying the CHALLENGE
2. the first real message (Create), sealed, `Authorization: Negotiate <AUTHENTICATE>` -> 200, sealed

Wrong credentials still end as a 401 on the second request, which pywinrm raises as
InvalidCredentialsError (bot.winrm.faults: auth_failed).

pyspnego derives the LM and NT hashes from the password for every new context, the LM hash in
pure-Python DES (about 2 ms of CPU, what a 50-host wave pays fifty times): they are derived once
per password here and handed over as an `NTLMHash` credential.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
import spnego
from requests.auth import AuthBase
from requests_ntlm.requests_ntlm import ShimSessionSecurity
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the derivations pyspnego itself uses
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError


@functools.lru_cache(maxsize=64)
def ntlm_hash(username: str, password: str) -> spnego.NTLMHash:
    """The account's LM and NT hashes, derived once per password."""
    return spnego.NTLMHash(
        username=username,
        lm_hash=base64.b16encode(lmowfv1(password)).decode(),
        nt_hash=base64.b16encode(ntowfv1(password)).decode(),
    )


class NegotiateAuth(AuthBase):
    """requests' auth for one WinRM session. `start` runs the NEGOTIATE leg; the AUTHENTICATE token
    then rides on the next request. `session_security` (wrap, unwrap) is what pywinrm's Encryption
    seals and unseals with; it is per connection, so one session is never used by two threads."""

    def __init__(self, username: str | None, password: str | None) -> None:
        self._credential = ntlm_hash(username or "", password or "")
        self.session_security: ShimSessionSecurity | None = None
        self._authenticate: str | None = None  # the Authorization header the next request carries

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Connection"] = "Keep-Alive"  # NTLM authenticates the connection
        if self._authenticate is not None:
            request.headers["Authorization"], self._authenticate = self._authenticate, None
        return request

    def start(
        self,
        session: requests.Session,
        endpoint: str,
        send: Callable[[requests.PreparedRequest], requests.Response],
    ) -> None:
        """NEGOTIATE on an empty POST; the server's CHALLENGE makes the AUTHENTICATE token (and the
        sealing keys). Raises InvalidCredentialsError when the server offers no NTLM challenge."""
        client = spnego.client(
            self._credential, hostname=urlsplit(endpoint).hostname or "unspecified", service="http",
            protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm,
        )
        request = session.prepare_request(requests.Request("POST", endpoint, data=None))
        request.headers["Authorization"] = f"Negotiate {_b64(client.step())}"
        response = send(request)
        response.content  # read it all, so the connection (which NTLM authenticates) is kept  # noqa: B018
        offer = _challenge(response)
        if offer is None:
            if response.status_code in (401, 403):
                raise InvalidCredentialsError("the server offered no NTLM (Negotiate) challenge")
            raise WinRMTransportError("http", response.status_code, "no NTLM challenge in the answer to NEGOTIATE")
        scheme, challenge = offer
        self._authenticate = f"{scheme} {_b64(client.step(challenge))}"
        self.session_security = ShimSessionSecurity(client)


def _challenge(response: requests.Response) -> tuple[str, bytes] | None:
    """The scheme and CHALLENGE token of a 401's `WWW-Authenticate: Negotiate <token>` (or `NTLM`)."""
    if response.status_code != 401:
        return None
    for offer in response.headers.get("WWW-Authenticate", "").split(","):
        scheme, _, token = offer.strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm") and token.strip():
            try:
                return scheme, base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return None
    return None


def _b64(token: bytes | None) -> str:
    return base64.b64encode(token or b"").decode("ascii")
