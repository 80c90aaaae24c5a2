"""NTLM for the simulated WinRM service, through pyspnego's acceptor, with WinRM message
encryption ([MS-WSMV] 2.2.9.1.1, the framing pywinrm's `winrm/encryption.py` writes and reads).

pyspnego's pure-Python NTLM acceptor reads its users from the file named by the environment
variable NTLM_USER_FILE. The simulator writes one private temporary file per process with the lab
users of the farms it runs, as smbpasswd lines holding each user's NT hash (MD4 of the UTF-16LE
password, computed here: the standard library's OpenSSL often lacks MD4; the LM hash is left zero,
as NTLMv2 never uses it), and points NTLM_USER_FILE at it; the file is removed when the process
exits. Nothing here comes from the client's code (bot.winrm), so the check stays independent.
"""

from __future__ import annotations

import atexit
import base64
import os
import struct
import tempfile
import threading
from pathlib import Path

import spnego
from spnego.exceptions import SpnegoError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary"

_users: dict[str, str] = {}  # username -> NT hash, hex
_file: Path | None = None
_lock = threading.Lock()


def register_user(username: str, password: str) -> None:
    """Make `username`/`password` known to NTLM acceptors in this process."""
    global _file
    with _lock:
        _users[username] = nt_hash(password).hex().upper()
        if _file is None:
            handle, name = tempfile.mkstemp(prefix="aspreset-sim-ntlm-", suffix=".txt")
            os.close(handle)
            _file = Path(name)
            atexit.register(_file.unlink, missing_ok=True)
        # smbpasswd: USERNAME:UID:LM_HASH:NT_HASH:FLAGS:LAST_CHANGE (only the user and hashes are read)
        lines = (f"{user}:0:{'0' * 32}:{nt}:[U]:LCT-00000000\n" for user, nt in _users.items())
        _file.write_text("".join(lines), encoding="utf-8")
        os.chmod(_file, 0o600)
        os.environ["NTLM_USER_FILE"] = str(_file)


def nt_hash(password: str) -> bytes:
    """The NT hash of a password ([MS-NLMP] 3.3.1 NTOWFv1): MD4 of its UTF-16LE encoding."""
    return md4(password.encode("utf-16-le"))


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320)."""
    length = len(data)
    data += b"\x80" + b"\x00" * ((55 - length) % 64) + struct.pack("<Q", length * 8)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for offset in range(0, len(data), 64):
        words = struct.unpack("<16I", data[offset : offset + 64])
        a, b, c, d = state
        for round_, (constant, order, shifts) in enumerate(_MD4_ROUNDS):
            for i, k in enumerate(order):
                mixed = _md4_mix(round_, b, c, d)
                a, b, c, d = d, _rotl(a + mixed + words[k] + constant, shifts[i % 4]), b, c
        state = [(s + v) & 0xFFFFFFFF for s, v in zip(state, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *state)


_MD4_ROUNDS = (
    (0, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), (3, 7, 11, 19)),
    (0x5A827999, (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), (3, 5, 9, 13)),
    (0x6ED9EBA1, (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), (3, 9, 11, 15)),
)


def _md4_mix(round_: int, x: int, y: int, z: int) -> int:
    if round_ == 0:
        return (x & y) | (~x & z)
    if round_ == 1:
        return (x & y) | (x & z) | (y & z)
    return x ^ y ^ z


def _rotl(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


class NtlmConnection:
    """The NTLM state of one HTTP connection (NTLM authenticates connections, not requests)."""

    def __init__(self) -> None:
        self._context: spnego.ContextProxy | None = None

    @property
    def established(self) -> bool:
        return self._context is not None and self._context.complete

    @property
    def principal(self) -> str | None:
        return self._context.client_principal if self.established and self._context else None

    def step(self, token_b64: str) -> tuple[bool, str | None]:
        """One leg of the handshake: (complete, token to send back). Raises ValueError when the
        client cannot be authenticated."""
        if self._context is None or self._context.complete:
            self._context = spnego.server(protocol="ntlm")
        try:
            answer = self._context.step(base64.b64decode(token_b64))
        except (SpnegoError, ValueError) as exc:
            self._context = None
            raise ValueError("NTLM authentication failed") from exc
        return self._context.complete, base64.b64encode(answer).decode("ascii") if answer else None

    def decrypt(self, body: bytes) -> bytes:
        """The SOAP message inside a multipart/encrypted body."""
        assert self._context is not None
        message = b""
        parts = [p for p in body.split(_BOUNDARY + b"\r\n") if p]
        for header, payload in zip(parts[0::2], parts[1::2], strict=False):
            length = int(header.strip().split(b"Length=")[1])
            if payload.endswith(_BOUNDARY + b"--\r\n"):
                payload = payload[: -len(_BOUNDARY + b"--\r\n")]
            stream = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            signature_length = struct.unpack("<i", stream[:4])[0]
            signature = stream[4 : 4 + signature_length]
            plain = self._context.unwrap(signature + stream[4 + signature_length :]).data
            if len(plain) != length:
                raise ValueError("encrypted message length does not match OriginalContent")
            message += plain
        return message

    def encrypt(self, message: bytes) -> bytes:
        assert self._context is not None
        sealed = self._context.wrap(message, encrypt=True).data
        signature, data = sealed[:16], sealed[16:]
        return (
            _BOUNDARY + b"\r\n"
            b"\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + _BOUNDARY
            + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature))
            + signature
            + data
            + _BOUNDARY
            + b"--\r\n"
        )
