"""Where a host's WinRM credentials come from: the environment or a file named by the inventory
(an inline password only for a lab host). Errors name the host, the field and the variable or
file, never the value; `Credentials` never prints its password."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.app.errors import ConfigError
from policies.inventory import Host

NEEDS_PASSWORD = frozenset({"ntlm", "credssp", "basic", "ssl"})


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str | None = field(default=None, repr=False)
    cert_pem: str | None = None
    cert_key_pem: str | None = None

    def __str__(self) -> str:
        return f"Credentials(username={self.username!r}, password={'***' if self.password else None})"


def resolve_credentials(host_name: str, host: Host, env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials for `host`, or ConfigError saying which setting is missing."""
    env = os.environ if env is None else env
    where = f"hosts.{host_name}"
    username = host.username
    if username is None and host.username_env:
        username = env.get(host.username_env) or None
        if username is None:
            raise ConfigError(f"{where}.username_env names {host.username_env}, which is not set in the environment")
    password: str | None = None
    if host.password is not None:
        if not host.lab:
            raise ConfigError(f"{where}.password: an inline password is only accepted for a lab host")
        password = host.password
    elif host.password_env:
        password = env.get(host.password_env)
        if not password:
            raise ConfigError(f"{where}.password_env names {host.password_env}, which is not set in the environment")
    elif host.password_file:
        password = _read_secret_file(where, host.password_file)

    uses_certificate = host.transport == "certificate" or (
        host.transport == "ssl" and (host.cert_pem or host.cert_key_pem)
    )
    if uses_certificate:
        for name, value in (("cert_pem", host.cert_pem), ("cert_key_pem", host.cert_key_pem)):
            if not value or not Path(value).is_file():
                raise ConfigError(f"{where}.{name}: certificate authentication needs a readable file, got {value!r}")
    elif host.transport in NEEDS_PASSWORD:
        if not username:
            raise ConfigError(f"{where}: transport {host.transport!r} needs a user name: set username or username_env")
        if password is None:
            raise ConfigError(
                f"{where}: transport {host.transport!r} needs a password: set password_env (an environment "
                "variable name) or password_file"
            )
    return Credentials(username=username, password=password, cert_pem=host.cert_pem, cert_key_pem=host.cert_key_pem)


def _read_secret_file(where: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}.password_file: {path} is not UTF-8 text") from None
    except OSError as exc:
        why = exc.strerror or "the system refused"
        raise ConfigError(f"{where}.password_file: cannot read {path} ({why}, as the user the bot runs as)") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise ConfigError(f"{where}.password_file: {path} is empty")
    return secret
