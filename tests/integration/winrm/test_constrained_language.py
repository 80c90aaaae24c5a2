"""A host whose PowerShell runs in ConstrainedLanguage mode (an application control policy, WDAC or
AppLocker, enforces it): the scripts' .NET calls would fail there, so the bootstrap checks the
language mode first and every operation answers `constrained_language`, saying what to do, with
nothing done (docs/iis-behaviour.md, "Constrained Language Mode")."""

from __future__ import annotations

import threading
from typing import get_args

import pytest
from restart_results import verdict_of

from bot.app.results import Operation, OperationParams, RestartResult
from bot.sim.observe import OpContext, loopback_get
from bot.sim.operations import run_script
from bot.winrm.scripts import bootstrap_source, stdin_payload


@pytest.mark.parametrize("op", get_args(Operation))
def test_every_operation_on_a_locked_down_host_answers_constrained_language_and_does_nothing(farm, executor, call, op):
    web01 = farm.host("web01")
    web01.iis.language_mode = "ConstrainedLanguage"
    workers = web01.processes("ShopPool")

    result = executor.run(*call("shop-web", "web01", op))

    assert not result.ok and result.error_code == "constrained_language"
    assert "ConstrainedLanguage" in (result.error or "") and "WDAC or AppLocker" in (result.error or "")
    assert web01.processes("ShopPool") == workers  # nothing recycled, nothing killed
    if isinstance(result, RestartResult):
        verdict = verdict_of(result)
        assert verdict.error_code == "constrained_language"


def test_without_the_language_gate_the_scripts_fail_on_their_first_dotnet_call(farm):
    # What the bootstrap's gate prevents: the script's first method call on a .NET type stops it with
    # a PowerShell error and no JSON, which the client could only report as a failed script.
    iis = farm.host("web01").iis
    iis.language_mode = "ConstrainedLanguage"
    ctx = OpContext(iis=iis, cancel=threading.Event(), http_get=loopback_get)
    payload = stdin_payload(OperationParams(op="apppool", iis_site="Shop"))

    old = run_script(payload, ctx, "$s = $input | Out-String; & ([scriptblock]::Create($s))")
    new = run_script(payload, ctx, bootstrap_source())

    assert old.exit_code == 1 and b"MethodInvocationNotSupportedInConstrainedLanguage" in old.stderr
    assert new.exit_code == 0 and RestartResult.model_validate_json(new.stdout).error_code == "constrained_language"
