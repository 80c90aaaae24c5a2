"""The tools' input types name exactly what the core knows, so a schema never offers a value the
core would refuse or hides one it has."""

from __future__ import annotations

from typing import get_args

from bot.app.records import RequestState
from bot.mcp.inputs import Scope, State
from commands.rungs import Rung


def _literal_values(annotated: object) -> set[str]:
    optional = get_args(annotated)[0]  # Annotated[Literal[...] | None, Field(...)]
    literal = next(arg for arg in get_args(optional) if arg is not type(None))
    return set(get_args(literal))


def test_the_state_filter_offers_every_request_state_and_nothing_else():
    assert _literal_values(State) == {state.value for state in RequestState}


def test_the_scope_offers_every_rung_including_server_so_that_it_can_be_refused():
    assert _literal_values(Scope) == {rung.value for rung in Rung}
