"""The FakeExecutor answers as the scripts do: each operation's own result model, state that changes
as IIS's would, and scripted answers that apply to the next matching operation only. If the result
models change (bot/app/results.py), these fail first and point at tests/fakes.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeExecutor

from bot.app.errors import ExecutionError, TimedOut
from bot.app.results import (
    RESULT_MODELS,
    Operation,
    OperationParams,
    OperationResult,
    RestartResult,
    StatusResult,
)
from policies.files import load_inventory
from policies.inventory import Inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(EXAMPLES / "inventory.toml")


def _run(
    executor: FakeExecutor, inventory: Inventory, op: Operation, pool: str = "ShopPool"
) -> OperationResult | ExecutionError:
    params = OperationParams(op=op, iis_site="Shop", app_path="/", pool=pool, method="")
    [result] = executor.run_many([("web01", inventory.hosts["web01"], params)])
    return result


@pytest.mark.parametrize("op", ["status", "appdomain", "apppool", "worker", "discover"])
def test_each_operation_answers_with_its_own_result_model(inventory: Inventory, op: Operation) -> None:
    result = _run(FakeExecutor.for_inventory(inventory), inventory, op)

    model = RESULT_MODELS[op]
    assert isinstance(result, model) and type(result) is model
    assert model.model_validate_json(result.model_dump_json()) == result


def test_a_recycle_replaces_the_workers_and_a_status_read_sees_the_new_ones(inventory: Inventory) -> None:
    executor = FakeExecutor.for_inventory(inventory, workers_per_pool=2)
    before = executor.pids("web01", "ShopPool")

    recycled = _run(executor, inventory, "apppool")
    status = _run(executor, inventory, "status")

    assert isinstance(recycled, RestartResult) and isinstance(status, StatusResult)
    assert recycled.before is not None and recycled.after is not None
    pids_before = [w.pid for w in recycled.before.workers]
    pids_after = [w.pid for w in recycled.after.workers]
    assert recycled.ok and pids_before == before and len(pids_after) == 2
    assert not set(before) & set(pids_after)
    assert [w.pid for w in status.workers] == pids_after == executor.pids("web01", "shoppool")
    assert executor.pids("web02", "ShopPool") != pids_after  # the other host is its own


def test_an_unknown_pool_is_refused_as_the_script_refuses_it(inventory: Inventory) -> None:
    result = _run(FakeExecutor.for_inventory(inventory), inventory, "apppool", pool="NoSuchPool")

    assert isinstance(result, RestartResult)
    assert (result.ok, result.error_code) == (False, "pool_not_found")


def test_a_scripted_answer_applies_to_the_next_operation_of_its_kind_only(inventory: Inventory) -> None:
    executor = FakeExecutor.for_inventory(inventory)
    before = executor.pids("web01", "ShopPool")
    executor.fail_next("web01", TimedOut("web01", "no answer in 10 s"), op="apppool")

    status = _run(executor, inventory, "status")
    failed = _run(executor, inventory, "apppool")
    again = _run(executor, inventory, "apppool")

    assert isinstance(status, StatusResult) and status.ok
    assert isinstance(failed, TimedOut)
    assert executor.pids("web01", "ShopPool") != before  # only the second recycle ran
    assert isinstance(again, RestartResult) and again.ok and again.before is not None
    assert [w.pid for w in again.before.workers] == before
    assert [p.op for p in executor.ran("web01")] == ["status", "apppool", "apppool"]
