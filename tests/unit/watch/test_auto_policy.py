"""`auto` in an environment: the rungs the health watch may run for an incident without a click.
A worker kill always waits for a person, prod runs nothing by itself unless the policy says so on
purpose, and the watch never gets anything a rule would give a person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commands.model import Reason, RestartRequest
from policies.decision import Allow, Refuse, decide
from policies.files import FileError, load_inventory, parse_policy
from policies.identity import WATCH, Principal
from policies.planner import plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
THE_WATCH = Principal(id=WATCH, verified=True)
BASE = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")


def with_environments(prod: str, staging: str) -> str:
    text = BASE
    for name, extra in (("prod", prod), ("staging", staging)):
        head = f'[environments.{name}]\nwidest_rung = "worker"\n'
        text = text.replace(head, head + extra)
    return text


@pytest.mark.parametrize(
    ("prod", "staging", "said"),
    [
        ("", 'auto = ["apppool", "worker"]\n', "a worker kill always waits for a person"),
        ('auto = ["apppool"]\n', "", "environments.prod.auto: prod never restarts anything by itself unless the "
                                     "policy says so on purpose: add auto_in_production = true"),
    ],
)
def test_an_auto_that_is_not_meant_is_refused_at_load(prod, staging, said):
    with pytest.raises(FileError) as caught:
        parse_policy(with_environments(prod, staging), "team/policy.toml")
    assert said in str(caught.value)


def test_an_auto_wider_than_the_environment_allows_is_refused():
    text = BASE.replace('[environments.staging]\nwidest_rung = "worker"\n',
                        '[environments.staging]\nwidest_rung = "appdomain"\nauto = ["apppool"]\n')
    with pytest.raises(FileError) as caught:
        parse_policy(text, "team/policy.toml")
    assert "environments.staging.auto: apppool is wider than its widest_rung (appdomain)" in str(caught.value)


def decided(policy_text: str, site: str, reason: Reason):
    policy, inventory = parse_policy(policy_text, "policy.toml"), load_inventory(EXAMPLES / "inventory.toml")
    return decide(plan(RestartRequest(site=site, reason=reason), inventory, policy), THE_WATCH, policy, NOON)


def test_the_watch_runs_a_rung_its_environment_lists_and_nothing_else():
    text = with_environments("", 'auto = ["apppool"]\n')
    allowed = decided(text, "intranet-api", Reason.MEMORY)
    assert isinstance(allowed, Allow) and allowed.rule == "environments.staging.auto"
    assert isinstance(decided(text, "intranet-api", Reason.CONFIG), Refuse)  # appdomain is not listed
    assert isinstance(decided(text, "shop-web", Reason.MEMORY), Refuse)  # prod has no auto
    assert isinstance(decided(BASE, "intranet-api", Reason.MEMORY), Refuse)  # no auto anywhere: only offers


def test_prod_runs_by_itself_only_when_the_policy_says_so_on_purpose():
    text = with_environments('auto = ["apppool"]\nauto_in_production = true\n', "")
    assert isinstance(decided(text, "shop-web", Reason.MEMORY), Allow)
    assert isinstance(decided(text, "shop-web", Reason.HUNG), Refuse)  # a worker kill: never by itself
