"""A farm of simulated IIS hosts built from an inventory, each a WS-Management endpoint and a web
server on 127.0.0.1, with an API for tests to look inside and inject faults."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Literal

from bot.sim import ntlm
from bot.sim.iis import IN_PROCESS, Binding, IisServer, Pool
from bot.sim.loopback import LOOPBACK, LoopbackServer
from bot.sim.network import LAB_ADDRESS, host_get, tls_context
from bot.sim.observe import OpContext
from bot.sim.operations import ScriptOutcome, run_script
from bot.sim.timing import SimTiming
from bot.sim.web import SiteHandler
from bot.sim.wsman import ArmedFault, ReceivedCommand, WsmanEndpoint, WsmanFaultSpec
from bot.sim.wsman_http import WsmanHandler
from policies.inventory import Host, Inventory, Site

LAB_USERNAME = "aspreset-lab"


class SimHost:
    """One simulated Windows server: its IIS model (`iis`), its WinRM service (`wsman`) and the
    web server its sites answer on."""

    def __init__(
        self,
        name: str,
        *,
        timing: SimTiming,
        username: str,
        password: str,
        iis_major_version: int = 10,
        iis5_isolation: bool = False,
        first_pid: int = 4000,
        wsman_port: int = 0,
        http_port: int = 0,
        powershell_version: str | None = None,
    ) -> None:
        self.name = name
        self.timing = timing
        # Server 2003 (IIS 6) has at most Windows PowerShell 2.0 (docs/iis-behaviour.md).
        found = powershell_version or ("2.0" if iis_major_version < 7 else "5.1")
        self.iis = IisServer(
            timing=timing,
            iis_major_version=iis_major_version,
            iis5_isolation=iis5_isolation,
            first_pid=first_pid,
            powershell_version=found,
        )
        self._stop = threading.Event()
        self._cancels: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.site_requests = 0
        self.wsman = WsmanEndpoint(
            name,
            username=username,
            password=password,
            runner=self._run_script,
            stop=self._stop,
            max_receive_wait_s=timing.max_receive_wait_s,
        )
        self._wsman_server = LoopbackServer(WsmanHandler, self.wsman, wsman_port)
        web = (self.iis, self._stop, self._count_site_request)
        self._web_server = LoopbackServer(SiteHandler, web, http_port)
        self.iis.http_port = self._web_server.port  # the sites' bindings name the port they answer on
        tls = tls_context(f"{name}.sim", self._https_host_names)
        self._tls_server = LoopbackServer(SiteHandler, web, 0, tls=tls)
        self.iis.https_port = self._tls_server.port
        self.get_from_host = host_get(self.iis.network, self._serving_port)  # a GET as the scripts send it

    # ---- addresses ----------------------------------------------------------------------------

    @property
    def wsman_port(self) -> int:
        return self._wsman_server.port

    @property
    def http_port(self) -> int:
        return self._web_server.port

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.wsman_port}/wsman"

    @property
    def warmup_base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    # ---- what tests read ----------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """WS-Management HTTP requests received (every POST, answered or not)."""
        return self.wsman.requests

    @property
    def encrypted_requests(self) -> int:
        """SOAP messages that arrived sealed with NTLM message encryption."""
        return self.wsman.encrypted_requests

    @property
    def actions(self) -> list[str]:
        """The action of every request, in order: Create, Command, Send, Receive, Signal, Delete."""
        with self.wsman.lock:
            return list(self.wsman.actions)

    @property
    def open_shells(self) -> int:
        return self.wsman.open_shells

    @property
    def received(self) -> list[ReceivedCommand]:
        with self.wsman.lock:
            return list(self.wsman.received)

    def pool(self, name: str) -> Pool:
        return self.iis.pool(name)

    def pids(self, pool: str) -> list[int]:
        return self.iis.pids(self.iis.pool(pool))

    def processes(self, pool: str) -> set[tuple[int, str]]:
        """The pool's workers as (PID, start time): the farm reuses PIDs as Windows does."""
        return {(w.pid, w.started_at) for w in self.iis.workers(self.iis.pool(pool))}

    def reset_counters(self) -> None:
        self.wsman.reset_counters()
        with self._lock:
            self.site_requests = 0

    # ---- faults -------------------------------------------------------------------------------

    def inject_latency(self, seconds: float) -> None:
        """Delay every WS-Management response by `seconds`."""
        self.wsman.latency_s = seconds

    def inject_unauthorized(self, *, actions: Iterable[str] | None = None, times: int | None = None) -> None:
        """Answer 401 (as for a wrong password or a disabled auth scheme)."""
        self.wsman.arm(ArmedFault("unauthorized", _actions(actions), times))

    def inject_fault(
        self,
        spec: WsmanFaultSpec | None = None,
        *,
        actions: Iterable[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer HTTP 500 with a WS-Management SOAP fault (default: the per-user quota fault)."""
        self.wsman.arm(ArmedFault("fault", _actions(actions), times, spec or WsmanFaultSpec()))

    def inject_drop(self, *, actions: Iterable[str] | None = None, times: int | None = None) -> None:
        """Close the connection without answering."""
        self.wsman.arm(ArmedFault("drop", _actions(actions), times))

    def inject_hang(self, operations: Iterable[str] | None = None) -> None:
        """Commands (of these operations; None: all) never finish: every Receive ends in the TimedOut
        fault until Signal/Delete."""
        self.wsman.hang_operations = None if operations is None else frozenset(operations)
        self.wsman.hang_commands = True

    def inject_script_output(self, stdout: bytes, stderr: bytes = b"", exit_code: int = 0) -> None:
        """Every command prints this instead of running the operation (a noisy profile, a broken
        script)."""
        self.wsman.script_output = ScriptOutcome(stdout, stderr, exit_code)

    def clear_faults(self) -> None:
        self.wsman.clear_faults()

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._web_server.start()
        self._tls_server.start()
        self._wsman_server.start()

    def begin_stop(self) -> None:
        self._stop.set()
        with self._lock:
            for cancel in self._cancels:
                cancel.set()
        self._wsman_server.begin_stop()
        self._web_server.begin_stop()
        self._tls_server.begin_stop()

    def stop(self) -> None:
        self.begin_stop()
        self._wsman_server.stop()
        self._web_server.stop()
        self._tls_server.stop()

    def _serving_port(self, scheme: str, port: int) -> int | None:
        """The loopback port that serves a binding's port: the web server's, or its TLS side's."""
        wanted = self.iis.https_port if scheme == "https" else self.iis.http_port
        return port if port == wanted else None

    def _https_host_names(self) -> list[str]:
        with self.iis.lock:
            return [b.host for s in self.iis.sites.values() for b in s.bindings if b.protocol == "https" and b.host]

    def _run_script(self, script: str, cancel: threading.Event, bootstrap: str) -> ScriptOutcome:
        with self._lock:
            self._cancels.add(cancel)
        try:
            ctx = OpContext(iis=self.iis, cancel=cancel, http_get=self.get_from_host)
            return run_script(script, ctx, bootstrap)
        finally:
            with self._lock:
                self._cancels.discard(cancel)

    def _count_site_request(self) -> None:
        with self._lock:
            self.site_requests += 1


class Farm:
    """Simulated hosts for every host of an inventory (plus `extra_hosts` generated ones), with the
    inventory's IIS sites, applications and pools. Use as a context manager to start and stop
    every server."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        extra_hosts: int = 0,
        timing: SimTiming | None = None,
        username: str = LAB_USERNAME,
        password: str | None = None,
    ) -> None:
        self.timing = timing or SimTiming()
        self.inventory = _with_generated_hosts(inventory, extra_hosts)
        self.username = username
        self.password = password or _process_lab_password()
        ntlm.register_user(self.username, self.password)
        self.hosts: dict[str, SimHost] = {}
        try:
            for index, (name, host) in enumerate(self.inventory.hosts.items()):
                self.hosts[name] = SimHost(
                    name,
                    timing=self.timing,
                    username=self.username,
                    password=self.password,
                    iis_major_version=host.iis_major_version or (6 if host.iis5_isolation else 10),
                    iis5_isolation=host.iis5_isolation,
                    first_pid=4000 + 4000 * index,
                )
        except BaseException:
            self.stop()
            raise
        for site in self.inventory.sites.values():
            for host_name in site.hosts:
                _add_site(self.hosts[host_name].iis, site)
        for index, sim in enumerate(self.hosts.values()):
            # Some servers are hardened with DisableServerHeader: HTTP.sys' own pages carry no Server header.
            sim.iis.http_sys_hides_server_header = index % 2 == 1
            sim.iis.request_monitor = index % 2 == 0  # an optional feature: some servers lack it
            # Some list the addresses HTTP.sys listens on, loopback left out (netsh http add iplisten).
            if index % 3 == 2:
                sim.iis.network.ip_listen_list = [LAB_ADDRESS]
            with sim.iis.lock:  # every site answers https too, with a certificate for its host name
                for iis_site in sim.iis.sites.values():
                    for binding in [b for b in iis_site.bindings if b.protocol == "http" and b.host]:
                        iis_site.bindings.append(Binding("https", "*", sim.iis.https_port, binding.host))
            sim.iis.other_app_restarts_per_read = 1  # the counter is machine-wide: other apps move it
            sim.iis.start_workers()

    @classmethod
    def from_inventory(cls, inventory: Inventory, *, extra_hosts: int = 0, timing: SimTiming | None = None) -> Farm:
        return cls(inventory, extra_hosts=extra_hosts, timing=timing)

    @classmethod
    def generated(cls, hosts: int, *, timing: SimTiming | None = None) -> Farm:
        """A farm of `hosts` generated hosts, each site on two of them (for benchmarks)."""
        return cls(Inventory(hosts={}, sites={}), extra_hosts=hosts, timing=timing)

    def host(self, name: str) -> SimHost:
        return self.hosts[name]

    def client_inventory(self, transport: Literal["basic", "ntlm"] = "basic") -> Inventory:
        """The same inventory with every host pointed at its simulated endpoint: loopback address
        and port, Basic over HTTP (or NTLM with message encryption), lab = true, the farm's lab
        credentials inline, and warm-up requests sent to the host's simulated web server."""
        hosts = {}
        for name, host in self.inventory.hosts.items():
            sim = self.hosts[name]
            values = host.model_dump(exclude_none=True)
            for secret_source in ("username_env", "password_env", "password_file", "cert_pem", "cert_key_pem"):
                values.pop(secret_source, None)
            values.update(
                address=LOOPBACK,
                port=sim.wsman_port,
                scheme="http",
                path="/wsman",
                transport=transport,
                username=self.username,
                password=self.password,
                lab=True,
                server_cert_validation="validate",
                warmup_base_url=sim.warmup_base_url,
            )
            hosts[name] = Host.model_validate(values)
        return Inventory(hosts=hosts, sites=dict(self.inventory.sites))

    def start(self) -> Farm:
        for sim in self.hosts.values():
            sim.start()
        return self

    def stop(self) -> None:
        for sim in self.hosts.values():
            sim.begin_stop()
        for sim in self.hosts.values():
            sim.stop()

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_lab_password: list[str] = []


def _process_lab_password() -> str:
    """One random lab password per process: farms running side by side share the NTLM user file."""
    if not _lab_password:
        _lab_password.append(secrets.token_urlsafe(18))
    return _lab_password[0]


def _add_site(iis: IisServer, site: Site) -> None:
    app = iis.add_app(site.iis_site, site.app, site.pool)
    if site.runtime == "core" and not iis.iis5_isolation:
        iis.pools[site.pool].managed_runtime = ""
        app.hosting_model = IN_PROCESS


def _with_generated_hosts(inventory: Inventory, extra: int) -> Inventory:
    if extra <= 0:
        return inventory
    hosts = dict(inventory.hosts)
    sites = dict(inventory.sites)
    names: list[str] = []
    number = 0
    while len(names) < extra:
        number += 1
        name = f"sim{number:03d}"
        if name not in hosts:
            names.append(name)
            hosts[name] = Host(address=name, transport="basic", lab=True)
    for index, name in enumerate(names):
        site_name = f"app-{name}"
        on = [name] if len(names) == 1 else [name, names[(index + 1) % len(names)]]
        pascal = f"App{name[3:]}"
        sites[site_name] = Site(environment="bench", hosts=on, iis_site=pascal, pool=f"{pascal}Pool")
    return Inventory(hosts=hosts, sites=sites)


def _actions(actions: Iterable[str] | None) -> frozenset[str] | None:
    return None if actions is None else frozenset(actions)
