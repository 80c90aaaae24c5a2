"""The simulator's benchmark knobs: a new AppDomain's first request takes the cold start, every
WinRM answer the injected latency, and bad flag values are refused naming the flag."""

from __future__ import annotations

import argparse

import pytest

from bot.app.results import OperationParams, RestartResult
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming, add_timing_arguments, timing_from_arguments
from bot.winrm.executor import WinRMExecutor
from policies.inventory import Host, Inventory, Site

INVENTORY = Inventory(hosts={"web01": Host(address="web01", transport="basic", lab=True)},
                      sites={"shop": Site(environment="lab", hosts=["web01"], iis_site="Shop", pool="ShopPool")})


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_timing_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_flags_make_a_bench_timing_and_a_latency():
    timing, latency = timing_from_arguments(flags("--latency-ms", "20", "--recycle-s", "2", "--cold-start-s", "1"))
    assert timing == SimTiming.bench(recycle_s=2, cold_start_s=1) and latency == 0.02
    assert timing_from_arguments(flags()) == (None, 0.0)


def test_a_negative_flag_is_refused_naming_it():
    with pytest.raises(ValueError, match="--cold-start-s must be 0 or more"):
        timing_from_arguments(flags("--cold-start-s", "-1"))


def test_an_appdomain_restart_waits_for_the_new_appdomains_cold_start():
    with Farm.from_inventory(INVENTORY, timing=SimTiming.bench(recycle_s=0.1, cold_start_s=0.3)) as farm:
        host = farm.client_inventory().hosts["web01"]
        params = OperationParams(op="appdomain", iis_site="Shop", pool="ShopPool", method="wmi-unload",
                                 warmup_url=f"{host.warmup_base_url}/", timeout_s=10)
        result = WinRMExecutor(env={}).run("web01", host, params)
    assert isinstance(result, RestartResult) and result.ok, result
    answer = result.warmups[-1]
    assert answer.status == 200 and answer.ms >= 300
    assert result.after is not None and result.after.appdomains  # a new AppDomain (with the same Id) answered
