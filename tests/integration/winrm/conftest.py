"""A simulated farm on real loopback sockets and the real executor over pywinrm."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.app.results import Operation, OperationParams
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.winrm.executor import HostCall, WinRMExecutor
from bot.winrm.transport import Timeouts
from policies.inventory import Host, Inventory, Site

FAST = SimTiming(worker_start_s=0.02, drain_s=0.15, transition_s=0.1, poll_s=0.01)


def _real_host(address: str, **extra: Any) -> Host:
    return Host(
        address=address,
        transport="ntlm",
        username_env="ASPRESET_WINRM_USER",
        password_env="ASPRESET_WINRM_PASSWORD",
        **extra,
    )


@pytest.fixture
def inventory() -> Inventory:
    """The demo team's farm (examples/inventory.toml) plus an ASP.NET Core app."""
    return Inventory(
        hosts={
            "web01": _real_host("web01.shop.example", iis_major_version=10),
            "web02": _real_host("web02.shop.example", iis_major_version=10),
            "web03": Host(address="web03.corp.example", transport="kerberos", iis_major_version=10),
            "web04": _real_host("web04.corp.example", iis_major_version=6, iis5_isolation=True),
        },
        sites={
            "shop-web": Site(environment="prod", hosts=["web01", "web02"], iis_site="Shop", pool="ShopPool"),
            "intranet": Site(environment="staging", hosts=["web03"], iis_site="Intranet", pool="SharedPool"),
            "intranet-api": Site(
                environment="staging",
                hosts=["web03"],
                iis_site="Intranet",
                app="/api",
                pool="SharedPool",
                warmup_path="/api/health",
            ),
            "core-api": Site(
                environment="staging", hosts=["web03"], iis_site="CoreApi", pool="CorePool", runtime="core"
            ),
            "legacy": Site(
                environment="prod", hosts=["web04"], iis_site="Default Web Site", app="/legacy", pool="DefaultAppPool"
            ),
        },
    )


@pytest.fixture
def timing() -> SimTiming:
    return FAST


@pytest.fixture
def farm(inventory: Inventory, timing: SimTiming) -> Iterator[Farm]:
    with Farm.from_inventory(inventory, timing=timing) as running:
        yield running


@pytest.fixture
def client(farm: Farm) -> Inventory:
    return farm.client_inventory()


@pytest.fixture
def executor() -> Iterator[WinRMExecutor]:
    executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=10, max_operation_s=5), deadline_s=20)
    yield executor
    executor.close()


Call = Callable[..., HostCall]


@pytest.fixture
def call(client: Inventory) -> Call:
    """call(site, host, op, **params) -> HostCall against the farm, warm-up URL included."""

    def make(site_name: str, host_name: str, op: Operation, **overrides: Any) -> HostCall:
        site, host = client.sites[site_name], client.hosts[host_name]
        values: dict[str, Any] = {
            "op": op,
            "request_id": "req-test",
            "iis_site": site.iis_site,
            "app_path": site.app,
            "pool": site.pool,
            "warmup_url": f"{host.warmup_base_url}{urllib.parse.quote(site.warmup_path)}",
            "timeout_s": 5,
            "poll_ms": 50,
        }
        values.update(overrides)
        return HostCall(host_name, host, OperationParams(**values))

    return make


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Wait for a condition with a deadline (never a bare sleep)."""

    pause = threading.Event()  # never set: a bounded pause between checks

    def wait(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            pause.wait(0.005)

    return wait
