"""`make demo` as a deploy team meets it: the scripted story against a farm in its own process
(exit 0 when every scene behaved as told, non-zero naming the one that did not), and the
interactive console driven through a real terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pexpect
import pytest

from bot.demo import DemoWorld, demo_world, run_demo, scripted


def test_the_scripted_demo_plays_every_scene_and_exits_zero():
    out = io.StringIO()
    assert run_demo(out=out) == 0, out.getvalue()[-3000:]
    text = out.getvalue()
    assert "Every scene behaved as told (9 scenes)." in text
    # the watch: the channel hears of the hung web02 before anyone asks, and of its recovery by the kill
    assert re.search(r"#channel  shop-web on web02: hung since [\d:]+Z \(3 bad probes in a row\), nobody asked", text)
    assert "[button: worker on web02]  type: /recycle shop-web --reason hung --host web02" in text
    assert re.search(r"#channel \(the same message, updated\)  shop-web on web02: recovered by request r-\w+", text)
    assert "[button: Run the appdomain restart]" in text, "the config-only deploy offers the appdomain restart"
    assert "resume with: /recycle shop-web --scope appdomain --from web02" in text
    assert "forges a notice on purpose" in text and "the notice forged on purpose was refused (HTTP 401)" in text
    assert "Windows reuses process IDs, so a PID alone proves nothing" in text
    killed = re.findall(r"^  (web0[12]): PID \d+ started [\d:.]+ -> PID \d+ started [\d:.]+$", text, re.M)
    assert killed == ["web01", "web02"], "each host shows its old and new worker with their start times"


def test_the_demo_names_the_scene_that_did_not_behave():
    out = io.StringIO()
    with demo_world(out) as world:
        assert world.sim.control("silent web02").startswith("ok")  # the very first scene needs web02
        assert scripted(world, out) == 1
    assert "DEMO FAILED in scene 'A deploy that changed bin/'" in out.getvalue()


def test_the_demo_deletes_the_shells_it_kept_on_the_farm_on_the_way_out():
    out = io.StringIO()
    with demo_world(out) as world:
        world.console.say("alice", "/recycle status shop-web", echo=False)
        assert open_shells(world) == {"web01": 1, "web02": 1, "web03": 0, "web04": 0}  # kept for the next call
        world.runtime.close()  # what leaving demo_world does first, before the farm stops
        assert open_shells(world) == {"web01": 0, "web02": 0, "web03": 0, "web04": 0}


def open_shells(world: DemoWorld) -> dict[str, int]:
    answer = world.sim.control("shells")
    assert answer.startswith("ok: "), answer
    return {name: int(count) for name, count in (pair.split("=") for pair in answer.removeprefix("ok: ").split())}


def test_the_interactive_console_takes_chat_lines_people_and_faults_through_a_terminal(tmp_path):
    env = {**os.environ, "ASPRESET_CONFIG": "", "ASPRESET_LOG_LEVEL": "error"}
    child = pexpect.spawn(sys.executable, ["-m", "bot.cli", "demo", "--interactive"], env=env, cwd=str(tmp_path),
                          encoding="utf-8", timeout=60)
    try:
        child.expect_exact("alice> ")
        child.sendline("/recycle plan shop-web --reason hung")
        child.expect_exact("Needs 1 approval(s) from bob (U02BOB)")
        child.expect_exact("alice> ")
        child.sendline("/as bob")
        child.expect_exact("you are now bob (U02BOB)")
        child.expect_exact("bob> ")
        child.sendline("!hang web03")
        child.expect(r"farm: ok: web03 SharedPool workers \[\d+\] hang")
        child.expect_exact("bob> ")
        child.sendline("!deploy shop-web App_Config/connectionStrings.config")
        child.expect_exact("[button: Run the appdomain restart]")
        child.expect_exact("bob> ")
        child.sendline("!quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_the_slack_demo_without_tokens_says_which_are_needed_and_starts_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--slack"], env={**env, "ASPRESET_CONFIG": ""},
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "SLACK_APP_TOKEN" in done.stderr
    assert "Simulated IIS farm" not in done.stdout


@pytest.mark.parametrize("line", ["!frobnicate web01", "!silent web99"])
def test_a_fault_line_the_farm_does_not_know_is_answered_with_what_it_does_know(line):
    out = io.StringIO()
    with demo_world(out) as world:
        answer = world.sim.control(line[1:])
    assert answer.startswith("error:") and ("silent HOST" in answer or "web01" in answer)
