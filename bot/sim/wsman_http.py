"""The HTTP side of the simulated WinRM service, one connection at a time: Basic per request, or
NTLM per connection (pyspnego's acceptor) with WinRM message encryption; the SOAP is the
endpoint's (bot.sim.wsman)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from spnego.exceptions import SpnegoError

from bot.sim.ntlm import NtlmConnection
from bot.sim.wsman import WsmanEndpoint
from bot.sim.wsman_wire import ENCRYPTED_TYPE, UNAUTHORIZED


class WsmanHandler(BaseHTTPRequestHandler):
    """HTTP for one connection: Basic per request, or NTLM per connection with message
    encryption; the SOAP itself is the endpoint's."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self._ntlm = NtlmConnection()

    def do_POST(self) -> None:
        endpoint: WsmanEndpoint = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != "/wsman":
            self._answer(404, [], b"")
            return
        if not endpoint.begin_request():
            self.close_connection = True
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() in ("negotiate", "ntlm"):
            if endpoint.refuses_handshake():
                self._answer(*UNAUTHORIZED)
                return
            try:
                complete, answer = self._ntlm.step(token.strip())
            except ValueError:
                self._answer(*UNAUTHORIZED)
                return
            if not complete:
                self._answer(401, [("WWW-Authenticate", f"{scheme} {answer}")], b"")
                return
            if body and endpoint.authenticate_alone:
                self._ntlm = NtlmConnection()  # the context is not kept: the client must start again
                self._answer(*UNAUTHORIZED)
                return
        encrypted = self._ntlm.established
        if encrypted and self.headers.get("Content-Type", "").startswith("multipart/encrypted"):
            try:
                body = self._ntlm.decrypt(body)
                with endpoint.lock:
                    endpoint.encrypted_requests += 1
            except (ValueError, IndexError, SpnegoError):
                self._answer(400, [("Content-Type", "text/plain")], b"cannot decrypt")
                return
        authenticated = encrypted or (scheme == "Basic" and endpoint.check_basic(f"Basic {token}"))
        if not body:  # an empty POST that completes NTLM before the first sealed message (pywinrm's own way)
            self._answer(*((200, [], b"") if authenticated else UNAUTHORIZED))
            return
        result = endpoint.handle(body, authenticated)
        if result is None:  # dropped connection: close the socket without a response
            self.close_connection = True
            return
        status, headers, payload = result
        if encrypted and status != 401 and payload:
            headers = [(k, v) for k, v in headers if k != "Content-Type"] + [("Content-Type", ENCRYPTED_TYPE)]
            payload = self._ntlm.encrypt(payload)
        self._answer(status, headers, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
