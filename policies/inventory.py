"""The inventory file: which hosts exist, how to reach them, and which IIS site, app and pool each
managed site is. Validated by pydantic; `policies.files.load_inventory` reads it."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from commands.limits import MAX_NAME, NAME_PATTERN
from policies.watch import Watch

Transport = Literal["ntlm", "kerberos", "credssp", "certificate", "ssl", "basic"]
AppDomainMethod = Literal["wmi-unload", "touch-web-config", "bin-marker"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Host(Strict):
    """One IIS server and how WinRM reaches it. Secrets are never in this file for real hosts:
    `password_env`/`password_file` name where they are; an inline `password` is accepted only
    when `lab = true` (the simulated farm writes one)."""

    address: str = Field(description="DNS name or IP of the server")
    port: int | None = Field(default=None, ge=1, le=65535, description="default 5985 (http) or 5986")
    scheme: Literal["http", "https"] | None = None
    path: str = "/wsman"
    transport: Transport = "ntlm"
    username: str | None = None
    username_env: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_env: str | None = None
    password_file: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    server_cert_validation: Literal["validate", "ignore"] = "validate"
    lab: bool = Field(default=False, description="a test farm: Basic over plain HTTP is allowed")
    iis_major_version: int | None = Field(default=None, ge=5, le=20)
    iis5_isolation: bool = Field(
        default=False, description="IIS 6 in IIS 5.0 isolation mode: one aspnet_wp.exe for the machine"
    )
    warmup_base_url: str | None = Field(
        default=None, description="where warm-up requests go, default http://<address>"
    )

    @property
    def effective_scheme(self) -> str:
        if self.scheme:
            return self.scheme
        return "https" if self.transport == "ssl" else "http"

    @property
    def endpoint(self) -> str:
        port = self.port or (5986 if self.effective_scheme == "https" else 5985)
        return f"{self.effective_scheme}://{self.address}:{port}{self.path}"

    @property
    def worker_process_name(self) -> str:
        return "aspnet_wp" if self.iis5_isolation else "w3wp"

    @model_validator(mode="after")
    def _secrets_stay_out_of_real_inventories(self) -> Host:
        if self.password is not None and not self.lab:
            raise ValueError(
                "an inline password is only accepted for a lab host (lab = true); "
                "use password_env or password_file for real servers"
            )
        if self.transport == "basic" and self.effective_scheme == "http" and not self.lab:
            raise ValueError(
                "transport 'basic' over plain http sends the password in clear; "
                "use ntlm/kerberos/credssp, or ssl (Basic over HTTPS), or mark a test farm lab = true"
            )
        if self.transport == "certificate" and not (self.cert_pem and self.cert_key_pem):
            raise ValueError("transport 'certificate' needs cert_pem and cert_key_pem")
        return self


HOOK_PLACEHOLDERS = ("host", "address", "site", "pool", "phase")


class DrainHook(Strict):
    """One call before or after a host restarts: a command (argv, no shell) or an HTTP request.
    `{host}`, `{address}`, `{site}`, `{pool}` and `{phase}` (before/after) are replaced in each
    argument and in the URL. Exit code 0 or HTTP 2xx is success; anything else, or no answer within
    `timeout_s`, is a failure."""

    command: list[str] | None = Field(default=None, min_length=1)
    url: str | None = None
    method: Literal["GET", "POST", "PUT", "DELETE"] = "POST"
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one_kind(self) -> DrainHook:
        if (self.command is None) == (self.url is None):
            raise ValueError('give exactly one of command = ["lbctl", "drain", "{host}"] or url = "https://..."')
        if self.url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.url):
            raise ValueError(f"url must be an http(s) URL like https://lb.example.com/drain/{{host}}, got {self.url!r}")
        for text in [*(self.command or ()), self.url or ""]:
            for name in re.findall(r"\{([^{}]*)\}", text):
                if name not in HOOK_PLACEHOLDERS:
                    known = ", ".join("{" + p + "}" for p in HOOK_PLACEHOLDERS)
                    raise ValueError(f"unknown placeholder {{{name}}} in {text!r}; use {known}")
        return self


class Drain(Strict):
    """Take a host out of the load balancer before it restarts and put it back after."""

    before: DrainHook | None = None
    after: DrainHook | None = None


class Site(Strict):
    """One managed ASP.NET application: an app (by path) of an IIS site, on one or more hosts."""

    environment: str
    hosts: list[str] = Field(min_length=1)
    iis_site: str
    app: str = "/"
    pool: str
    runtime: Literal["clr", "core"] = Field(
        default="clr", description="'core' for ASP.NET Core under ANCM: no AppDomain"
    )
    warmup_path: str = "/"
    warmup_url: str | None = Field(
        default=None,
        description="full warm-up URL as requested on the host, for a site bound to a host name "
        "(http://shop.example.com/health); default: the host's warmup_base_url or http://localhost, plus warmup_path",
    )
    channel: str | None = Field(default=None, description="Slack channel ID (C...) that owns this site")
    appdomain_method: AppDomainMethod | None = None
    drain: Drain | None = Field(default=None, description="hooks run before and after each host restarts")
    watch: Watch | None = Field(default=None, description="probe the site's health on each host (docs/watch.md)")

    @field_validator("app")
    @classmethod
    def _app_is_a_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"app must be an application path starting with '/', got {value!r}")
        return value

    @field_validator("warmup_path")
    @classmethod
    def _warmup_is_a_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"warmup_path must start with '/', got {value!r}")
        return value

    @field_validator("warmup_url")
    @classmethod
    def _warmup_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError(f"warmup_url must be an http(s) URL like http://shop.example.com/health, got {value!r}")
        return value

    @field_validator("channel")
    @classmethod
    def _channel_is_an_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,}", value):
            raise ValueError(f"channel must be a Slack channel ID like C0123ABC, got {value!r}")
        return value


class Inventory(Strict):
    hosts: dict[str, Host]
    sites: dict[str, Site]

    @field_validator("hosts", "sites")
    @classmethod
    def _names_are_plain(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not NAME_PATTERN.fullmatch(name):
                raise ValueError(f"name {name!r} must be letters, digits, '.', '_' or '-' (at most {MAX_NAME})")
        by_lower: dict[str, str] = {}
        for name in value:
            if name.lower() in by_lower:
                raise ValueError(
                    f"{by_lower[name.lower()]!r} and {name!r} differ only in letter case, which Windows ignores: "
                    "keep one"
                )
            by_lower[name.lower()] = name
        return value

    @model_validator(mode="after")
    def _sites_name_known_hosts(self) -> Inventory:
        for site_name, site in self.sites.items():
            for host in site.hosts:
                if host not in self.hosts:
                    known = ", ".join(sorted(self.hosts)) or "none"
                    raise ValueError(f"sites.{site_name}.hosts names unknown host {host!r} (known: {known})")
            self._each_server_once(site_name, site)
        return self

    def _each_server_once(self, site_name: str, site: Site) -> None:
        """Two entries for one server would restart it twice, concurrently."""
        seen: list[str] = []
        for name in site.hosts:
            for earlier in seen:
                same = _same_server(earlier, self.hosts[earlier], name, self.hosts[name])
                if same:
                    raise ValueError(
                        f"sites.{site_name}.hosts lists {earlier!r} and {name!r}, which are one server ({same}): "
                        "list each server once"
                    )
            seen.append(name)

    def apps_in_pool(self, host: str, pool: str) -> list[str]:
        """Every managed site that runs in `pool` on `host`: the blast radius of a pool recycle."""
        return sorted(name for name, site in self.sites.items() if site.pool == pool and host in site.hosts)


def _same_server(a_name: str, a: Host, b_name: str, b: Host) -> str | None:
    """Why two inventory entries are one server (names and addresses compared as Windows does,
    ignoring case; a short name is its FQDN's first label), or None. Entries on different WinRM
    ports are different endpoints (the simulated farm puts every host on 127.0.0.1)."""
    if a_name.lower() == b_name.lower():
        return "the same name in another letter case" if a_name != b_name else "the same name twice"
    if a.endpoint.rsplit(":", 1)[-1] != b.endpoint.rsplit(":", 1)[-1]:
        return None
    address_a, address_b = a.address.lower().rstrip("."), b.address.lower().rstrip(".")
    if address_a == address_b:
        return f"both at address {a.address}"
    if _is_ip(address_a) or _is_ip(address_b):
        return None
    short, long = sorted((address_a, address_b), key=len)
    if "." not in short and long.split(".", 1)[0] == short:
        return f"{short} is the short name of {long}"
    return None


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return True
