from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.decision import Allow, NeedsApproval, Refuse, decide
from policies.files import FileError, default_policy, parse_policy
from policies.identity import Principal
from policies.planner import plan

ALICE = Principal(id="U01ALICE")
BOB = Principal(id="U02BOB")
CAROL = Principal(id="U03CAROL")
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def planned(inventory, policy, **kwargs):
    return plan(RestartRequest(site=kwargs.pop("site", "shop-web"), **kwargs), inventory, policy)


def test_a_deployer_restarts_an_app_without_approval(example_policy, example_inventory):
    decision = decide(planned(example_inventory, example_policy), ALICE, example_policy, MONDAY_NOON)
    assert isinstance(decision, Allow)


def test_a_worker_kill_needs_a_lead_who_is_not_the_requester(example_policy, example_inventory):
    the_plan = planned(example_inventory, example_policy, reason=Reason.HUNG)
    decision = decide(the_plan, ALICE, example_policy, MONDAY_NOON)
    assert isinstance(decision, NeedsApproval)
    assert decision.approvers == ("U02BOB",) and decision.approvals == 1 and decision.expires_in_s == 900


def test_a_lead_asking_for_a_worker_kill_cannot_be_their_own_approver(example_policy, example_inventory):
    the_plan = planned(example_inventory, example_policy, reason=Reason.HUNG)
    decision = decide(the_plan, BOB, example_policy, MONDAY_NOON)
    assert isinstance(decision, Refuse)
    assert "no one but the requester" in decision.reasons[0]


def test_an_assistant_linked_to_alice_cannot_make_alice_an_approver_of_her_own_request(
    example_policy, example_inventory
):
    policy = parse_policy(
        example_policy_text().replace('leads = ["bob"]', 'leads = ["bob", "alice"]'), "p.toml"
    )
    the_plan = planned(example_inventory, policy, reason=Reason.HUNG)
    decision = decide(the_plan, Principal(id="mcp:alice-assistant"), policy, MONDAY_NOON)
    assert isinstance(decision, NeedsApproval)
    assert decision.approvers == ("U02BOB",)


def test_someone_with_no_rule_is_refused_with_the_file_named(example_policy, example_inventory):
    decision = decide(planned(example_inventory, example_policy), CAROL, example_policy, MONDAY_NOON)
    assert isinstance(decision, Refuse)
    assert decision.source.endswith("policy.toml") and "no rule lets carol" in decision.reasons[0]


def test_a_wider_than_needed_rung_goes_to_approval_by_default(example_policy, example_inventory):
    the_plan = planned(example_inventory, example_policy, scope=Rung.APPPOOL, changed=("bin/A.dll",))
    decision = decide(the_plan, ALICE, example_policy, MONDAY_NOON)
    assert isinstance(decision, NeedsApproval)
    assert "wider than needed" in " ".join(decision.reasons)


def test_the_server_rung_is_refused_with_the_narrowest_alternative(example_policy, example_inventory):
    the_plan = planned(example_inventory, example_policy, scope=Rung.SERVER, changed=("App_Config/a.config",))
    decision = decide(the_plan, ALICE, example_policy, MONDAY_NOON)
    assert isinstance(decision, Refuse) and decision.alternative == Rung.APPDOMAIN


def test_iis5_isolation_refuses_pool_and_worker_rungs(example_policy, example_inventory):
    for reason in (Reason.HUNG, Reason.GAC):
        the_plan = planned(example_inventory, example_policy, site="legacy", reason=reason)
        decision = decide(the_plan, ALICE, example_policy, MONDAY_NOON)
        assert isinstance(decision, Refuse) and "aspnet_wp" in decision.reasons[0]
        assert decision.alternative == Rung.APPDOMAIN


def test_the_widest_rung_of_an_environment_is_enforced(example_inventory):
    policy = parse_policy(example_policy_text().replace(
        '[environments.prod]\nwidest_rung = "worker"', '[environments.prod]\nwidest_rung = "appdomain"'
    ), "p.toml")
    decision = decide(planned(example_inventory, policy, reason=Reason.GAC), ALICE, policy, MONDAY_NOON)
    assert isinstance(decision, Refuse) and decision.rule == "environments.prod.widest_rung"


FREEZE = """
[[freezes]]
name = "weekend"
environments = ["prod"]
days = ["fri"]
start = "22:00"
end = "06:00"
timezone = "Europe/Berlin"
"""


@pytest.mark.parametrize(
    ("when", "frozen"),
    [
        (datetime(2026, 11, 27, 20, 59, tzinfo=UTC), False),  # Fri 21:59 Berlin
        (datetime(2026, 11, 27, 21, 0, tzinfo=UTC), True),  # Fri 22:00 Berlin
        (datetime(2026, 11, 28, 4, 59, tzinfo=UTC), True),  # Sat 05:59 Berlin, still the Friday night
        (datetime(2026, 11, 28, 5, 0, tzinfo=UTC), False),  # Sat 06:00 Berlin
        (datetime(2026, 11, 28, 22, 0, tzinfo=UTC), False),  # Sat night is not frozen
    ],
)
def test_a_freeze_window_refuses_in_its_timezone_even_across_midnight(when, frozen, example_inventory):
    policy = parse_policy(example_policy_text() + FREEZE, "p.toml")
    decision = decide(planned(example_inventory, policy), ALICE, policy, when)
    assert isinstance(decision, Refuse) == frozen
    if frozen:
        assert "until Sat 06:00 Europe/Berlin" in decision.reasons[0]


def test_a_freeze_for_prod_leaves_staging_alone(example_inventory):
    policy = parse_policy(example_policy_text() + FREEZE, "p.toml")
    when = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    assert isinstance(decide(planned(example_inventory, policy, site="intranet"), ALICE, policy, when), Allow)


def test_the_worker_kill_cap_per_pool_refuses_and_points_at_a_recycle(example_policy, example_inventory):
    the_plan = planned(example_inventory, example_policy, reason=Reason.HUNG)
    decision = decide(the_plan, ALICE, example_policy, MONDAY_NOON, recent_worker_kills=3)
    assert isinstance(decision, Refuse) and decision.alternative == Rung.APPPOOL
    below = decide(the_plan, ALICE, example_policy, MONDAY_NOON, recent_worker_kills=2)
    assert isinstance(below, NeedsApproval)


@pytest.mark.parametrize(
    ("requesters", "principal", "allowed"),
    [
        ('["U09DAVE"]', Principal(id="U09DAVE"), True),
        ('["U09DAVE"]', Principal(id="U08ERIN"), False),
        ('["S0OPS"]', Principal(id="U08ERIN", groups=frozenset({"S0OPS"})), True),
        ('["S0OPS"]', Principal(id="U08ERIN"), False),
        ('["C0SHOP"]', Principal(id="U08ERIN", channel="C0SHOP"), True),
        ('["C0SHOP"]', Principal(id="U08ERIN", channel="C0OTHER"), False),
        ('["mcp:claude"]', Principal(id="mcp:claude"), True),
        ('["carol"]', CAROL, True),
        ('["deployers"]', CAROL, False),
        ('["*"]', Principal(id="U07ANY"), True),
    ],
)
def test_requesters_match_by_immutable_id_group_channel_principal_alias_or_group(
    requesters, principal, allowed, example_inventory
):
    policy = parse_policy(BASE + f"""
[[rules]]
name = "r"
effect = "allow"
rungs = ["appdomain"]
requesters = {requesters}
""", "p.toml")
    decision = decide(planned(example_inventory, policy), principal, policy, MONDAY_NOON)
    assert isinstance(decision, Allow) == allowed


def test_rules_match_on_site_and_environment_globs_first_match_wins(example_inventory):
    policy = parse_policy(BASE + """
[[rules]]
name = "no shop restarts"
effect = "refuse"
sites = ["shop-*"]
requesters = ["*"]
[[rules]]
name = "staging is open"
effect = "allow"
environments = ["staging"]
rungs = ["appdomain", "apppool"]
requesters = ["*"]
""", "p.toml")
    assert isinstance(decide(planned(example_inventory, policy), CAROL, policy, MONDAY_NOON), Refuse)
    staging = planned(example_inventory, policy, site="intranet")
    assert isinstance(decide(staging, CAROL, policy, MONDAY_NOON), Allow)


def test_the_default_policy_refuses_worker_kills_until_leads_are_configured(example_inventory):
    policy = default_policy()
    the_plan = planned(example_inventory, policy, reason=Reason.HUNG)
    decision = decide(the_plan, Principal(id="U07ANY"), policy, MONDAY_NOON)
    assert isinstance(decision, Refuse)
    assert "[groups] leads" in decision.reasons[1]
    assert isinstance(decide(planned(example_inventory, policy), Principal(id="U07ANY"), policy, MONDAY_NOON), Allow)


def test_a_rule_that_allows_worker_kills_without_approval_is_refused_at_load():
    with pytest.raises(FileError, match=r"rules\[1\]: killing a worker process always needs a second person"):
        parse_policy(BASE + '[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["worker"]\n', "p.toml")


BASE = """
[people]
carol = "U03CAROL"
[groups]
deployers = []
leads = []
"""


def example_policy_text() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[3] / "examples" / "policy.toml").read_text()
