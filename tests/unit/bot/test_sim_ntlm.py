"""The simulator's own NTLM user store: NT hashes it computes itself (MD4 of the UTF-16LE password,
since OpenSSL 3 often lacks MD4), written where pyspnego's acceptor reads them, never a password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.sim.ntlm import md4, nt_hash, register_user


@pytest.mark.parametrize(("data", "digest"), [  # RFC 1320, appendix A.5
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
])
def test_md4_matches_the_rfc(data, digest):
    assert md4(data).hex() == digest


def test_the_nt_hash_is_md4_of_the_utf16_password():
    assert nt_hash("password").hex() == "8846f7eaee8fb117ad06bdd830b7586c"  # the widely published value


def test_the_user_file_holds_the_hash_and_no_password():
    register_user("lab\\hash-check", "Sekr1t:with colon")
    path = Path(os.environ["NTLM_USER_FILE"])
    line = next(entry for entry in path.read_text().splitlines() if entry.startswith("lab\\hash-check:"))
    assert line.split(":")[3] == nt_hash("Sekr1t:with colon").hex().upper()
    assert "Sekr1t" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
