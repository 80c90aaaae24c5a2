"""Rollout waves: how many hosts of a site restart at once, from the policy's per-environment
`max_parallel` (a count or a percentage), and what the plan shows."""

from __future__ import annotations

import json

import pytest

from commands.model import RestartRequest
from commands.parser import parse
from commands.rungs import Rung
from policies.files import FileError, parse_inventory, parse_policy
from policies.planner import PlanError, plan
from policies.rollout import default_max_parallel, wave_size, waves

HOSTS = [f"web{i:02d}" for i in range(1, 11)]

FARM = "\n".join(
    [*(f'[hosts.{h}]\naddress = "{h}.example"\n' for h in HOSTS),
     '[sites.shop-web]\nenvironment = "prod"\nhosts = [' + ", ".join(f'"{h}"' for h in HOSTS) + ']\n'
     'iis_site = "Shop"\npool = "ShopPool"\n',
     '[sites.lab-web]\nenvironment = "lab"\nhosts = [' + ", ".join(f'"{h}"' for h in HOSTS) + ']\n'
     'iis_site = "Lab"\npool = "LabPool"\n']
)


@pytest.mark.parametrize(
    ("max_parallel", "hosts", "size"),
    [(1, 10, 1), (3, 10, 3), (50, 10, 10), ("10%", 10, 1), ("25%", 10, 3), ("100%", 10, 10), ("1%", 200, 2),
     ("25%", 200, 50), (2, 1, 1)],
)
def test_a_wave_holds_the_count_or_the_percentage_of_the_sites_hosts_rounded_up(max_parallel, hosts, size):
    assert wave_size(max_parallel, hosts) == size


def test_waves_keep_the_inventory_order_and_the_last_wave_holds_the_rest():
    assert waves(HOSTS[:5], 2) == (("web01", "web02"), ("web03", "web04"), ("web05",))


def test_prod_restarts_one_host_at_a_time_unless_the_policy_says_otherwise():
    assert default_max_parallel("prod") == 1 and default_max_parallel("Production") == 1
    assert default_max_parallel("staging") == "100%"


@pytest.mark.parametrize("rung", [Rung.NONE, Rung.APPDOMAIN, Rung.APPPOOL])
def test_a_prod_site_plans_one_host_per_wave_by_default_at_every_rung(rung):
    inventory = parse_inventory(FARM, "farm.toml")
    the_plan = plan(RestartRequest(site="shop-web", scope=rung), inventory, parse_policy("", "policy.toml"))
    assert the_plan.waves == tuple((h,) for h in HOSTS)
    assert not the_plan.keep_going


def test_an_environment_sets_its_own_wave_size_and_keep_going():
    policy = parse_policy('[environments.prod]\nmax_parallel = "30%"\nkeep_going = true\n', "policy.toml")
    the_plan = plan(RestartRequest(site="shop-web"), parse_inventory(FARM, "farm.toml"), policy)
    assert [len(w) for w in the_plan.waves] == [3, 3, 3, 1]
    assert the_plan.keep_going


def test_a_non_prod_site_restarts_every_host_at_once_by_default():
    the_plan = plan(RestartRequest(site="lab-web"), parse_inventory(FARM, "farm.toml"), parse_policy("", "p.toml"))
    assert the_plan.waves == (tuple(HOSTS),)


@pytest.mark.parametrize("bad", ["0", '"0%"', '"150%"', '"half"', "-2", '"2"'])
def test_a_bad_max_parallel_is_refused_at_load_naming_the_field(bad):
    with pytest.raises(FileError, match=r"environments\.prod\.max_parallel"):
        parse_policy(f"[environments.prod]\nmax_parallel = {bad}\n", "policy.toml")


def test_from_resumes_at_that_host_and_keeps_the_ones_after_it():
    request = parse("/recycle shop-web --scope appdomain --from web08")
    the_plan = plan(request, parse_inventory(FARM, "farm.toml"), parse_policy("", "p.toml"))
    assert the_plan.hosts == ("web08", "web09", "web10")
    assert the_plan.waves == (("web08",), ("web09",), ("web10",))


def test_host_restarts_one_host_only_and_cannot_be_combined_with_from():
    inventory, policy = parse_inventory(FARM, "farm.toml"), parse_policy("", "p.toml")
    assert plan(parse("/recycle shop-web --host web03"), inventory, policy).waves == (("web03",),)
    with pytest.raises(PlanError, match="not both"):
        plan(RestartRequest(site="shop-web", hosts=("web01",), from_host="web02"), inventory, policy)
    with pytest.raises(PlanError, match="does not serve shop-web"):
        plan(RestartRequest(site="shop-web", from_host="db01"), inventory, policy)


def test_host_takes_several_hosts_which_run_in_the_sites_order_once_each():
    inventory, policy = parse_inventory(FARM, "farm.toml"), parse_policy("", "p.toml")
    chosen = plan(parse("/recycle shop-web --host web09 web03 web09"), inventory, policy)
    assert chosen.hosts == ("web03", "web09")
    assert plan(parse("/recycle shop-web --host web03 --host web09"), inventory, policy).hosts == ("web03", "web09")
    with pytest.raises(PlanError, match="'db01' does not serve shop-web"):
        plan(parse("/recycle shop-web --host web03 db01"), inventory, policy)


def test_a_recorded_plan_keeps_its_waves_through_the_store_round_trip():
    the_plan = plan(RestartRequest(site="shop-web"), parse_inventory(FARM, "farm.toml"), parse_policy("", "p.toml"))
    again = type(the_plan).from_dict(json.loads(json.dumps(the_plan.to_dict())))
    assert again == the_plan


DRAIN = FARM + '\n[sites.shop-web.drain.before]\ncommand = ["lbctl", "disable", "{address}"]\n'


def test_a_drain_hook_with_an_unknown_placeholder_is_refused_at_load_naming_the_field():
    with pytest.raises(FileError, match=r"sites\.shop-web\.drain\.before: unknown placeholder \{adress\}"):
        parse_inventory(DRAIN.replace("{address}", "{adress}"), "farm.toml")


def test_a_drain_hook_is_a_command_or_a_url_not_both():
    both = DRAIN + 'url = "https://lb.example.com/{host}"\n'
    with pytest.raises(FileError, match="exactly one of command"):
        parse_inventory(both, "farm.toml")
    assert parse_inventory(DRAIN, "farm.toml").sites["shop-web"].drain is not None
