"""The one table of rungs (commands.rungs.LADDER) and the one enum of request states are what every
reader uses: the operation each rung runs, the plan's method, chat help, and the values MCP's typed
inputs offer an assistant."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from bot.app.execution import operation_params
from bot.app.records import FINAL_STATES, RequestState
from bot.mcp.inputs import RUNG_COSTS, Scope, State
from commands.help import help_text
from commands.model import RestartRequest
from commands.rungs import EXECUTABLE_RUNGS, LADDER, Rung
from policies.files import load_inventory, load_policy
from policies.planner import plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _literal_values(annotated: object) -> set[str]:
    (literal_or_none, *_) = typing.get_args(annotated)
    literal = next(a for a in typing.get_args(literal_or_none) if a is not type(None)) \
        if typing.get_origin(literal_or_none) is typing.Union else literal_or_none
    return set(typing.get_args(literal))


def test_every_rung_but_the_server_runs_and_the_server_never_does() -> None:
    assert set(LADDER) == set(Rung)
    assert EXECUTABLE_RUNGS == (Rung.NONE, Rung.APPDOMAIN, Rung.APPPOOL, Rung.WORKER)
    assert LADDER[Rung.SERVER].operation is None and not LADDER[Rung.SERVER].runs


@pytest.mark.parametrize("rung", EXECUTABLE_RUNGS)
def test_a_plan_runs_the_operation_and_method_the_table_names(rung: Rung) -> None:
    inventory = load_inventory(EXAMPLES / "inventory.toml")
    the_plan = plan(RestartRequest(site="shop-web", scope=rung), inventory, load_policy(EXAMPLES / "policy.toml"))

    params = operation_params(the_plan, inventory.hosts[the_plan.hosts[0]], "r-test", 30)

    assert params.op == LADDER[rung].operation
    assert LADDER[rung].method in (None, the_plan.method)


def test_help_and_the_assistants_descriptions_come_from_the_table() -> None:
    assert all(LADDER[rung].summary in help_text("rungs") for rung in Rung)
    assert all(LADDER[rung].cost in RUNG_COSTS for rung in Rung)


def test_mcp_offers_exactly_the_rungs_and_the_request_states() -> None:
    assert _literal_values(Scope) == {rung.value for rung in Rung}
    assert _literal_values(State) == {state.value for state in RequestState}
    assert RequestState.SUCCEEDED in FINAL_STATES and RequestState.RUNNING not in FINAL_STATES


def test_slack_marks_every_request_state() -> None:
    from bot.slack.blocks import STATE_MARK

    assert set(STATE_MARK) == set(RequestState)
