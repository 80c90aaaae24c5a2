"""Whatever text arrives from chat or config, it reaches a host only inside the base64 parameters
line: the script source that follows is the prelude and then the operation's file, byte for byte."""

from __future__ import annotations

import base64
import json
import re
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app.results import Operation, OperationParams
from bot.sim.operations import script_operation, script_params
from bot.winrm.scripts import PRELUDE, PRELUDE_FILES, encode_params, prelude_source, script_source, stdin_payload

PARAMS_LINE = re.compile(r"^\$AspresetParams = '[A-Za-z0-9+/=]*'$")
HOSTILE = [
    "Shop'; Stop-Computer; '",
    "Shop\u2019 ; iisreset \u2018x\u201c\u201d",
    "`$(Remove-Item C:\\ -Recurse)`",
    "$(Invoke-Expression 'calc')",
    "a\nb\r\nc; Restart-Computer",
    '"double" and \\backslash\\ and $env:PATH',
]


def _split(payload: str) -> tuple[str, str]:
    first, _, rest = payload.partition("\n")
    return first, rest


def _decoded(first_line: str) -> dict[str, object]:
    blob = first_line.split("'")[1]
    return json.loads(base64.b64decode(blob).decode("utf-8"))


@pytest.mark.parametrize("op", get_args(Operation))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_travels_only_as_base64_and_the_script_follows_unchanged(op, hostile):
    params = OperationParams(
        op=op,
        request_id=hostile,
        iis_site=hostile,
        app_path="/" + hostile,
        pool=hostile,
        method=hostile,
        warmup_url="http://localhost/" + hostile,
    )
    first, rest = _split(stdin_payload(params))
    assert PARAMS_LINE.fullmatch(first)
    assert rest == prelude_source() + script_source(op)
    assert _decoded(first) == json.loads(params.model_dump_json())
    assert hostile not in stdin_payload(params)


def test_the_script_that_follows_is_the_prelude_then_the_operations_file_as_on_disk(ps_tree):
    prelude = "".join((ps_tree.SCRIPTS_DIR / f"{name}.ps1").read_text(encoding="utf-8") for name in PRELUDE_FILES)
    assert PRELUDE_FILES[0] == PRELUDE  # the file that sets the preferences goes first
    for op in get_args(Operation):
        _, rest = _split(stdin_payload(OperationParams(op=op)))
        assert rest == prelude + (ps_tree.SCRIPTS_DIR / f"{op}.ps1").read_text(encoding="utf-8")


@pytest.mark.parametrize("op", get_args(Operation))
def test_the_simulator_finds_the_operation_and_its_parameters_behind_the_prelude(op):
    params = OperationParams(op=op, iis_site="Shop")
    payload = stdin_payload(params)
    assert script_operation(payload) == op
    assert script_params(payload) == encode_params(params)


@given(site=st.text(), pool=st.text(), url=st.text())
def test_any_text_at_all_yields_one_params_line_of_base64(site, pool, url):
    params = OperationParams(op="apppool", iis_site=site, pool=pool, warmup_url=url)
    first, rest = _split(stdin_payload(params))
    assert PARAMS_LINE.fullmatch(first)
    assert rest == prelude_source() + script_source("apppool")
    assert _decoded(first)["iis_site"] == site
