"""After an operation has acted (recycled the pool, killed a worker, unloaded or touched the app), no
step may end it without its after-state: every call that can throw is inside a `try` whose `catch`
records what happened, in the operation's own steps after the act and in every prelude function they
reach (docs/iis-behaviour.md lists what throws on a real server). Checked on the parse trees."""

from __future__ import annotations

import re

import pytest

# The statement of Invoke-Operation that acts, by operation.
ACTS = {"apppool": ".Recycle()", "worker": "Stop-Worker $worker", "appdomain": "Add-Action 'unload'"}
# Calls that throw on a real server: reads of WAS, WMI, processes and files, and the warm-up's own steps
# (a wildcard or IPv6 Host header, a body cut short, a process that exits while its start time is read).
THROWING_COMMANDS = {"get-observation", "get-warmuprequest", "get-cimbounded", "get-poolstate", "get-workers",
                     "get-children", "get-appdomainentries", "new-servermanager"}
THROWING_MEMBERS = re.compile(r"::Create\(|\.GetResponse\(|\.ReadToEnd\(|\.StartTime\b|\.Host = |::GetProcessById\(")


def _in_try_body(node, region) -> bool:
    """Whether `node` sits in the body (not a catch or finally) of a try statement inside `region`."""
    child, parent = node, node.parent
    while parent is not None and child != region:
        if parent.type == "try_statement" and child.type == "statement_block":
            return True
        child, parent = parent, parent.parent
    return False


def unguarded(regions, library, ps_tree) -> list[str]:
    """What can throw outside a try body, in `regions` and in the library functions they call unguarded."""
    problems: list[str] = []
    seen: set[str] = set()
    todo = [("Invoke-Operation after the act", region) for region in regions]
    while todo:
        where, region = todo.pop()
        for name, command in ps_tree.commands(region):
            if _in_try_body(command, region):
                continue
            if name in THROWING_COMMANDS:
                problems.append(f"{where}, line {ps_tree.line(command)}: {ps_tree.text(command)[:60]}")
            elif name in library and name not in seen:
                seen.add(name)
                todo.append((name, library[name]))
        for node in ps_tree.walk(region):
            expression = node.type in ("invokation_expression", "member_access", "assignment_expression")
            if expression and THROWING_MEMBERS.search(ps_tree.text(node).split("\n")[0]) and \
                    not _in_try_body(node, region):
                problems.append(f"{where}, line {ps_tree.line(node)}: {ps_tree.text(node)[:60]}")
    return sorted(set(problems))


def after_the_act(op: str, ps_tree, prelude_source: str | None = None) -> list[str]:
    script = ps_tree.load_script(op)
    prelude = ps_tree.parse(prelude_source) if prelude_source is not None else ps_tree.load_script("prelude").root
    library = ps_tree.function_definitions(prelude)
    own = ps_tree.function_definitions(script.root)
    body = next(n for n in ps_tree.walk(own["invoke-operation"]) if n.type == "statement_list")
    statements = list(body.named_children)
    acting = next(i for i, s in enumerate(statements) if ACTS[op] in ps_tree.text(s))
    return unguarded(statements[acting + 1:], {**library, **own}, ps_tree)


@pytest.mark.parametrize("op", sorted(ACTS))
def test_nothing_after_the_act_can_end_the_operation_without_its_after_state(op, ps_tree):
    assert after_the_act(op, ps_tree) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    try { Get-Observation $Target $Domains } catch {",
         "    $null = Get-Observation $Target $Domains\n    try { } catch {"),
        ("        $waitLook = Get-LookAfterAct $WaitTarget $WaitDomains",
         "        $waitLook = Get-Observation $WaitTarget $WaitDomains"),
        ("            $web = [Net.WebRequest]::Create($Request.Url)",
         "            }\n        }\n    $web = [Net.WebRequest]::Create($Request.Url)\n"
         "    try {\n        if ($true) {"),
    ],
)
def test_the_check_finds_a_throwing_step_taken_out_of_its_try(old, new, ps_tree):
    prelude = ps_tree.load_script("prelude").source
    assert old in prelude
    assert after_the_act("apppool", ps_tree, prelude.replace(old, new, 1)) != []


def test_a_process_that_exits_while_its_start_time_is_read_is_left_out(prelude, ps_tree):
    convert = ps_tree.function_definitions(prelude.root)["convertto-process"]
    reads = [n for n in ps_tree.walk(convert) if n.type == "member_access" and ".StartTime" in ps_tree.text(n)]
    assert reads and all(_in_try_body(n, convert) for n in reads)
