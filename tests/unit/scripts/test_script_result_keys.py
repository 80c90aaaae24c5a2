"""The keys each script writes into its JSON result are exactly the fields of the model the executor
parses it into (nested models too), read from the parse tree: this keeps the scripts and the
simulated farm, which produces the same models, honest with each other."""

from __future__ import annotations

import pytest

from bot.winrm.results import RESULT_MODELS, DiscoverResult, RestartResult, StatusResult


def test_every_operation_has_a_result_model(script):
    assert script.op in RESULT_MODELS


def test_the_keys_a_script_writes_are_exactly_the_fields_of_its_result_model(script, ps_tree):
    assert ps_tree.key_problems(script.source, RESULT_MODELS[script.op]) == []


def test_the_checker_knows_which_models_each_result_nests(ps_tree):
    assert [m.__name__ for m in ps_tree.nested_models(StatusResult)] == ["WorkerProcess"]
    assert ps_tree.nested_models(RestartResult) == []
    assert sorted(m.__name__ for m in ps_tree.nested_models(DiscoverResult)) == [
        "DiscoveredApp",
        "DiscoveredPool",
        "DiscoveredSite",
    ]


def _mutated(ps_tree, op: str, old: str, new: str) -> str:
    source = ps_tree.load_script(op).source
    assert source.count(old) == 1, f"{old!r} is not in {op}.ps1 exactly once"
    return source.replace(old, new)


@pytest.mark.parametrize(
    ("op", "old", "new", "complaint"),
    [
        ("status", "    appdomain_id = $null\n", "", "lacks StatusResult field(s) ['appdomain_id']"),
        (
            "status",
            "    app_offline = $false\n",
            "    app_offline = $false\n    appOffline = $false\n",
            "has key(s) ['appOffline']",
        ),
        ("status", "        started_at = $Process", "        start_time = $Process", "WorkerProcess"),
        ("apppool", "    drained = $false\n", "", "lacks RestartResult field(s) ['drained']"),
        (
            "apppool",
            "$result.drained = $old.Count -eq 0",
            "$result.drainedOk = $old.Count -eq 0",
            "$result gets key 'drainedOk'",
        ),
        ("worker", "    pids_after = @()\n", "    pids_after = @()\n    pids_after = @()\n", "repeats key(s)"),
        ("discover", "                    physical_path = ", "                    physicalPath = ", "DiscoveredApp"),
        (
            "discover",
            "            max_processes = [int]$pool",
            "            maxProcesses = [int]$pool",
            "DiscoveredPool",
        ),
        ("discover", "            bindings = @(foreach", "            binding = @(foreach", "DiscoveredSite"),
        ("appdomain", "$result = [ordered]@{", "$result = @{", "exactly one `$result = [ordered]@{...}`"),
    ],
)
def test_the_key_check_fails_when_a_script_and_its_model_drift_apart(ps_tree, op, old, new, complaint):
    problems = ps_tree.key_problems(_mutated(ps_tree, op, old, new), RESULT_MODELS[op])
    assert problems, "the mutated script passed the key check"
    assert any(complaint in problem for problem in problems), problems


def test_a_nested_result_object_that_is_no_longer_built_is_reported(ps_tree):
    source = _mutated(ps_tree, "status", "    [ordered]@{\n        pid = ", "    @{\n        pid = ")
    assert "no [ordered] literal builds a WorkerProcess" in ps_tree.key_problems(source, StatusResult)


def test_a_computed_key_is_reported_rather_than_guessed(ps_tree):
    source = _mutated(ps_tree, "worker", "$result.method = 'warm-up'", "$result[$name] = 'warm-up'")
    problems = ps_tree.key_problems(source, RestartResult)
    assert any("computed key" in problem for problem in problems), problems
