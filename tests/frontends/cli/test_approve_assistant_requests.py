"""No way around a person: a request an assistant (`mcp:NAME`) made is approved only where the front
end checks who the person is. At the CLI that is the approver's own operating-system user (the
policy's `os_users`), on a terminal, with the plan shown and the request id typed back; `--as bob`
from another OS user, or with no terminal (an assistant's shell has none), is refused with the
reason and records nothing. A person's own request is approved at the CLI as before."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from bot.app.errors import NotAllowed
from bot.app.records import RequestState
from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.sim.cli import inventory_toml
from commands.model import Reason, RestartRequest
from policies.files import load_policy
from policies.identity import Principal

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ME = pwd.getpwuid(os.geteuid()).pw_name
BOB_LINE = 'bob = "U02BOB"'


def policy_where_bob_is(tmp_path: Path, os_user: str) -> Path:
    text = (EXAMPLES / "policy.toml").read_text()
    assert BOB_LINE in text
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace(BOB_LINE, f'bob = {{ id = "U02BOB", os_users = ["{os_user}"] }}', 1))
    return policy


@pytest.fixture
def setup(tmp_path, farm_inventory):  # type: ignore[no-untyped-def]
    """A waiting worker kill that mcp:assistant asked for, and how to run the CLI on it."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    farm = tmp_path / "farm.toml"
    farm.write_text(inventory_toml(farm_inventory))

    def core(policy: Path):  # type: ignore[no-untyped-def]
        """The core on that policy, as a Runtime that closes what it opened."""
        return build(Settings.of(load_policy(policy), farm_inventory, workdir=tmp_path, db_url=db,
                                 winrm=WinRMSettings(command_timeout_s=20), owner="cli-test"))

    def cli(policy: Path, *args: str) -> list[str]:
        return ["-m", "bot.cli", *args, "--policy", str(policy), "--inventory", str(farm), "--db", db]

    with core(policy_where_bob_is(tmp_path, ME)) as first:
        waiting = first.service.request(RestartRequest(site="shop-web", reason=Reason.HUNG, note="it hangs"),
                                        Principal(id="mcp:assistant"), "mcp:assistant")
    assert waiting.state == "awaiting_approval"
    return waiting.id, core, cli


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


def test_approving_as_bob_from_another_os_user_is_refused_with_the_reason(setup, tmp_path, demo_farm):
    request_id, core, cli = setup
    policy = policy_where_bob_is(tmp_path, "bob-elsewhere")
    done = run(cli(policy, "approve", request_id, "--as", "bob"))
    assert done.returncode == 3, done.stderr
    assert f"you are {ME} and the policy maps {ME} to nobody" in done.stderr
    assert "[people.bob] os_users" in done.stderr
    with core(policy) as after:
        assert after.service.store.get(request_id).state == RequestState.AWAITING_APPROVAL


def test_approving_as_bob_without_a_terminal_is_refused_even_as_bobs_os_user(setup, tmp_path, demo_farm):
    request_id, _, cli = setup
    policy = policy_where_bob_is(tmp_path, ME)
    before = demo_farm.host("web01").pids("ShopPool")
    done = run(cli(policy, "approve", request_id, "--as", "bob"))  # as an assistant's shell runs it: no tty
    assert done.returncode == 3, done.stderr
    assert "run this on a terminal" in done.stderr and "there is no terminal here" in done.stderr
    assert demo_farm.host("web01").pids("ShopPool") == before


def test_chat_text_through_the_cli_cannot_approve_an_assistants_request(setup, tmp_path):
    request_id, _, cli = setup
    policy = policy_where_bob_is(tmp_path, ME)
    done = run(cli(policy, "say", f"approve {request_id}", "--as", "bob"))
    assert done.returncode == 3 and "asked for by an assistant" in done.stderr


def test_bob_at_a_terminal_as_his_own_os_user_sees_the_plan_types_the_id_and_it_runs(setup, tmp_path, demo_farm):
    request_id, core, cli = setup
    policy = policy_where_bob_is(tmp_path, ME)
    before = demo_farm.host("web01").processes("ShopPool")
    env = {**os.environ, "ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    child = pexpect.spawn(sys.executable, cli(policy, "approve", request_id, "--as", "bob"), env=env,
                          encoding="utf-8", timeout=60)
    child.expect("worker")  # the plan is shown before anything is asked
    child.expect(f"Type {request_id} to approve it as bob: ")
    child.sendline(request_id)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    with core(policy) as after:
        assert after.service.store.get(request_id).state == RequestState.SUCCEEDED
    assert demo_farm.host("web01").processes("ShopPool") != before


def test_typing_anything_but_the_id_approves_nothing(setup, tmp_path):
    request_id, core, cli = setup
    policy = policy_where_bob_is(tmp_path, ME)
    env = {**os.environ, "ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    child = pexpect.spawn(sys.executable, cli(policy, "approve", request_id, "--as", "bob"), env=env,
                          encoding="utf-8", timeout=60)
    child.expect("to approve it as bob: ")
    child.sendline("yes")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    with core(policy) as after:
        assert after.service.store.get(request_id).state == RequestState.AWAITING_APPROVAL


def test_the_core_refuses_an_unverified_approver_for_an_assistants_request(setup, tmp_path):
    request_id, core, _ = setup
    with core(policy_where_bob_is(tmp_path, ME)) as runtime:
        service = runtime.service
        with pytest.raises(NotAllowed, match="asked for by an assistant"):
            service.approve(request_id, service.principal("bob"))  # `--as bob`: a name, not a check
        assert service.store.get(request_id).state == RequestState.AWAITING_APPROVAL


def test_a_persons_own_request_is_approved_at_the_cli_as_before(setup, tmp_path, demo_farm):
    _, core, cli = setup
    policy = policy_where_bob_is(tmp_path, "bob-elsewhere")
    with core(policy) as runtime:
        theirs = runtime.service.request(RestartRequest(site="intranet", reason=Reason.HUNG, note="it hangs"),
                                         runtime.service.principal("alice"), "cli:alice")
    assert theirs.state == "awaiting_approval"
    done = run(cli(policy, "approve", theirs.id, "--as", "bob"))  # no terminal, another OS user: as before
    assert done.returncode == 0, done.stderr
    with core(policy) as after:
        assert after.service.store.get(theirs.id).state == RequestState.SUCCEEDED
