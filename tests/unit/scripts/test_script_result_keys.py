"""The keys each script writes into its JSON result are exactly the fields of the model the executor
parses it into (nested models too), read from the parse tree: this keeps the scripts and the
simulated farm, which produces the same models, honest with each other. A script's keys are those of
its own file plus what the prelude functions it calls write: both travel together."""

from __future__ import annotations

import pytest

from bot.app.results import RESULT_MODELS, DiscoverResult, RestartResult, StatusResult
from bot.winrm.scripts import PRELUDE


def test_every_operation_has_a_result_model(script):
    assert script.op in RESULT_MODELS


def test_the_keys_a_script_writes_are_exactly_the_fields_of_its_result_model(script, prelude, ps_tree):
    assert ps_tree.key_problems(script.source, RESULT_MODELS[script.op], prelude.source) == []


def test_the_prelude_leaves_the_result_literal_to_each_operation(prelude, ps_tree):
    assert ps_tree.result_literals(prelude.root) == []


def test_every_prelude_function_is_called_by_some_operation_so_its_result_keys_are_checked(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    called: set[str] = set()
    for op in ps_tree.OPERATIONS:
        called |= set(ps_tree.reachable_functions(ps_tree.load_script(op).root, library))
    assert sorted(set(library) - called) == []


def test_the_checker_follows_calls_into_the_prelude(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    status = ps_tree.reachable_functions(ps_tree.load_script("status").root, library)
    apppool = ps_tree.reachable_functions(ps_tree.load_script("apppool").root, library)
    assert "invoke-warmup" in apppool and "invoke-warmup" in status  # through Wait-Outcome; status for the none rung
    assert "add-action" in apppool and "add-action" not in status
    assert {"set-failure", "get-errorcode", "write-result", "test-missingnamespace"} <= set(status)


def test_the_checker_knows_which_models_each_result_nests(ps_tree):
    assert [m.__name__ for m in ps_tree.nested_models(StatusResult)] == [
        "WorkerProcess",
        "PoolSettings",
        "Observation",
        "AppDomainEntry",
        "Features",
        "WarmupAnswer",
        "BeforeActing",
        "PoolApp",
        "InFlightRequest",
        "WasEvent",
    ]
    assert sorted(m.__name__ for m in ps_tree.nested_models(RestartResult)) == [
        "Action",
        "AppDomainEntry",
        "Observation",
        "PoolSettings",
        "WarmupAnswer",
        "WorkerProcess",
    ]
    assert sorted(m.__name__ for m in ps_tree.nested_models(DiscoverResult)) == [
        "DiscoveredApp",
        "DiscoveredPool",
        "DiscoveredSite",
        "Features",
    ]


def _mutated(ps_tree, name: str, old: str, new: str) -> str:
    source = ps_tree.load_script(name).source
    assert source.count(old) == 1, f"{old!r} is not in {name}.ps1 exactly once"
    return source.replace(old, new)


def _key_problems(ps_tree, op: str, mutated_file: str, old: str, new: str) -> list[str]:
    """The key check of `op` after one replacement in `mutated_file` (the op's own file or the prelude)."""
    source = _mutated(ps_tree, op, old, new) if mutated_file == op else ps_tree.load_script(op).source
    prelude = _mutated(ps_tree, PRELUDE, old, new) if mutated_file == PRELUDE else ps_tree.load_script(PRELUDE).source
    return ps_tree.key_problems(source, RESULT_MODELS[op], prelude)


@pytest.mark.parametrize(
    ("op", "mutated_file", "old", "new", "complaint"),
    [
        ("status", "status", "    appdomain_id = $null\n", "", "lacks StatusResult field(s) ['appdomain_id']"),
        (
            "status",
            "status",
            "    app_offline = $false\n",
            "    app_offline = $false\n    appOffline = $false\n",
            "has key(s) ['appOffline']",
        ),
        ("status", PRELUDE, "; started_at = $started", "; start_time = $started", "WorkerProcess"),
        ("apppool", "apppool", "    wait_ended = ''\n", "", "lacks RestartResult field(s) ['wait_ended']"),
        (
            "apppool",
            PRELUDE,
            "$result.wait_ended = 'condition'",
            "$result.waitEnded = 'condition'",
            "$result gets key 'waitEnded'",
        ),
        (
            "appdomain",
            PRELUDE,
            "    $result.warmups += , $answer",
            "    $result.warmup += , $answer",
            "$result gets key 'warmup'",
        ),
        (
            "discover",
            PRELUDE,
            "$result.error_code = Get-ErrorCode",
            "$result.errorCode = Get-ErrorCode",
            "$result gets key 'errorCode' that DiscoverResult does not have",
        ),
        (
            "status",
            "status",
            "    $result.workers = $seen.workers\n",
            "    $result.workers = $seen.workers\n    Add-Action 'recycle' 'x'\n",
            "$result gets key 'actions' that StatusResult does not have",
        ),
        (
            "discover",
            PRELUDE,
            "    try { [string]$Item.State } catch { 'Unknown' }\n",
            "    [ordered]@{ state = [string]$Item.State }\n",
            "the [ordered] literal at prelude.ps1 line",
        ),
        (
            "worker",
            PRELUDE,
            "function Stop-Operation(",
            "$result = [ordered]@{ ok = $false }\nfunction Stop-Operation(",
            "the prelude assigns a $result literal",
        ),
        (
            "worker",
            "worker",
            "    acted = $null\n",
            "    acted = $null\n    acted = $null\n",
            "repeats key(s)",
        ),
        (
            "discover",
            "discover",
            "        physical_path = ",
            "        physicalPath = ",
            "DiscoveredApp",
        ),
        (
            "discover",
            "discover",
            "            max_processes = [int]$pool",
            "            maxProcesses = [int]$pool",
            "DiscoveredPool",
        ),
        (
            "discover",
            "discover",
            "            bindings = @(foreach",
            "            binding = @(foreach",
            "DiscoveredSite",
        ),
        ("appdomain", "appdomain", "$result = [ordered]@{", "$result = @{", "exactly one `$result = [ordered]@{...}`"),
    ],
)
def test_the_key_check_fails_when_a_script_and_its_model_drift_apart(ps_tree, op, mutated_file, old, new, complaint):
    problems = _key_problems(ps_tree, op, mutated_file, old, new)
    assert problems, "the mutated script passed the key check"
    assert any(complaint in problem for problem in problems), problems


def test_a_wrong_key_written_in_the_prelude_is_reported_at_its_prelude_line(ps_tree):
    old = "$result.wait_ended = 'condition'"
    at = ps_tree.load_script(PRELUDE).source.split(old)[0].count("\n") + 1
    problems = _key_problems(ps_tree, "worker", PRELUDE, old, "$result.waitEnded = 'condition'")
    assert any(problem.startswith(f"prelude.ps1 line {at}: ") for problem in problems), problems


def test_a_nested_result_object_that_is_no_longer_built_is_reported(ps_tree):
    problems = _key_problems(ps_tree, "status", PRELUDE, "    [ordered]@{ pid = $Id;", "    @{ pid = $Id;")
    assert "no [ordered] literal builds a WorkerProcess" in problems


def test_a_computed_key_is_reported_rather_than_guessed(ps_tree):
    problems = _key_problems(ps_tree, "worker", "worker", "$result.method = 'warm-up'", "$result[$name] = 'warm-up'")
    assert any("computed key" in problem for problem in problems), problems
