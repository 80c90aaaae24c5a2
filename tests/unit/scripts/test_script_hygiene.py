"""Every operation script parses, follows the house rules, and holds no server-wide command."""

from __future__ import annotations

import re
from typing import get_args

from bot.winrm.results import ErrorCode
from bot.winrm.scripts import MARKER_PREFIX, PARAMS_VARIABLE

# The server rung, in any spelling, anywhere in the source (comments and messages too).
SERVER_RUNG = {
    "iisreset": r"iis\s*reset",
    "Stop-/Restart-Service on the web services": r"(stop|restart)-service\b[^\n]*\b(w3svc|was|iisadmin)\b",
    "net stop": r"\bnet(\.exe)?\s+stop\b",
    "taskkill": r"taskkill",
    "Stop-Process -Name w3wp": r"stop-process\b[^\n]*-name\s+['\"]?w3wp",
    "Restart-Computer": r"restart-computer",
    "machine.config": r"machine\.config",
}
# Commands no operation has any business running, by name or alias.
FORBIDDEN_COMMANDS = {
    "invoke-expression",
    "iex",
    "iisreset",
    "iisreset.exe",
    "net",
    "net.exe",
    "sc",
    "sc.exe",
    "taskkill",
    "taskkill.exe",
    "kill",
    "spps",
    "stop-service",
    "restart-service",
    "start-service",
    "set-service",
    "restart-computer",
    "stop-computer",
    "appcmd",
    "appcmd.exe",
}


def test_every_operation_has_its_script_file(script):
    assert script.path.name == f"{script.op}.ps1"
    assert script.source.strip()


def test_every_script_parses_without_errors(script, ps_tree):
    assert ps_tree.syntax_problems(script.root) == []


def test_every_script_is_plain_ascii_so_no_codepage_can_mangle_it(script):
    outside = sorted({char for char in script.source if ord(char) > 127})
    assert outside == []


def test_the_marker_line_names_the_operation_of_its_file(script):
    markers = [
        (number, line) for number, line in enumerate(script.source.splitlines()) if line.startswith(MARKER_PREFIX)
    ]
    assert markers == [(0, f"{MARKER_PREFIX}{script.op}")]


def test_errors_stop_the_script_and_progress_is_silenced_before_anything_runs(script, ps_tree):
    top = {}
    for statement in ps_tree.top_level_statements(script.root):
        assignment = next((n for n in ps_tree.walk(statement) if n.type == "assignment_expression"), None)
        if statement.type == "pipeline" and assignment is not None:
            name = ps_tree.text(assignment.children[0]).strip().lower()
            top.setdefault(name, ps_tree.text(assignment.children[-1]).strip())
        if statement.type == "function_statement":
            break
    assert top.get("$erroractionpreference") == "'Stop'"
    assert top.get("$progresspreference") == "'SilentlyContinue'"


def test_parameters_are_decoded_from_the_base64_json_blob_and_never_assigned(script, ps_tree):
    decoded = [
        node
        for node in ps_tree.walk(script.root)
        if node.type == "invokation_expression"
        and re.search(r"::FromBase64String$", ps_tree.text(node).split("(")[0], re.IGNORECASE)
        and any(ps_tree.text(v).lower() == PARAMS_VARIABLE.lower() for v in ps_tree.walk(node) if v.type == "variable")
    ]
    assert decoded, "no [Convert]::FromBase64String($AspresetParams)"
    assert "convertfrom-json" in {name for name, _ in ps_tree.commands(script.root)}
    assert "[text.encoding]::utf8.getstring(" in script.source.lower()
    assigned = [
        node
        for node in ps_tree.walk(script.root)
        if node.type == "left_assignment_expression" and ps_tree.text(node).strip().lower() == PARAMS_VARIABLE.lower()
    ]
    assert assigned == []


def test_no_script_builds_or_evaluates_code(script, ps_tree):
    names = {name for name, _ in ps_tree.commands(script.root)}
    assert not names & FORBIDDEN_COMMANDS
    lowered = script.source.lower()
    for pattern in (
        r"\binvoke-expression\b",
        r"\biex\b",
        r"scriptblock\]::create",
        r"newscriptblock",
        r"invokescript",
        r"-typedefinition",
        r"add-type\b[^\n]*-memberdefinition",
    ):
        assert not re.search(pattern, lowered), pattern


def test_no_script_holds_a_server_rung_command_even_in_a_comment(script):
    found = {what for what, pattern in SERVER_RUNG.items() if re.search(pattern, script.source, re.IGNORECASE)}
    assert found == set()


def test_the_server_rung_patterns_do_catch_what_they_are_for():
    samples = [
        "iisreset /noforce",
        "IISRESET",
        "Restart-Service -Name W3SVC",
        "stop-service was -force",
        "net stop w3svc",
        "taskkill /im w3wp.exe /f",
        "Stop-Process -Name w3wp",
        "Restart-Computer -Force",
        "(Get-Item machine.config).LastWriteTime = Get-Date",
    ]
    for sample in samples:
        assert any(re.search(p, sample, re.IGNORECASE) for p in SERVER_RUNG.values()), sample


def test_processes_are_only_ever_stopped_by_id_never_by_name_or_pipeline(script, ps_tree):
    for name, command in ps_tree.commands(script.root):
        if name != "stop-process":
            continue
        parameters = ps_tree.command_parameters(command)
        assert "-id" in parameters and "-name" not in parameters and "-inputobject" not in parameters
        before = command.prev_sibling
        assert before is None or ps_tree.text(before) != "|", "Stop-Process fed by a pipeline"


def test_every_loop_that_waits_is_bounded_by_the_deadline(script, ps_tree):
    loops = [node for node in ps_tree.walk(script.root) if node.type in ("while_statement", "do_statement")]
    for loop in loops:
        assert "$deadlinems" in ps_tree.text(loop).lower(), f"unbounded loop at line {ps_tree.line(loop)}"


def test_the_only_output_is_one_compressed_ascii_escaped_json_of_the_result(script, ps_tree):
    names = [name for name, _ in ps_tree.commands(script.root)]
    assert names.count("write-output") == 1
    assert not {"write-host", "out-host", "out-default", "write-information", "out-file"} & set(names)
    assert "[console]::" not in script.source.lower()
    conversions = [command for name, command in ps_tree.commands(script.root) if name == "convertto-json"]
    assert [ps_tree.text(c) for c in conversions] == ["ConvertTo-Json -InputObject $result -Compress -Depth 5"]
    assert "[regex]::Replace($json, '[^\\x00-\\x7F]', { param($m) '\\u{0:x4}' -f [int]$m.Value[0] })" in script.source
    assert "$null = Invoke-Operation" in script.source
    assert script.source.rstrip().endswith("exit 0")


def test_every_failure_is_caught_into_the_result_with_an_error_code(script, ps_tree):
    top_level_tries = [node for node in ps_tree.top_level_statements(script.root) if node.type == "try_statement"]
    guarded = [t for t in top_level_tries if "Invoke-Operation" in ps_tree.text(t)]
    assert len(guarded) == 1
    catch = ps_tree.text(guarded[0]).split("catch", 1)[1]
    assert "$result.ok = $false" in catch
    assert "$result.error_code = Get-ErrorCode" in catch


def test_every_error_code_a_script_reports_is_one_the_contract_knows(script, ps_tree):
    known = set(get_args(ErrorCode))
    used = set()
    for name, command in ps_tree.commands(script.root):
        if name == "stop-operation":
            arguments = ps_tree.command_arguments(command)
            code = ps_tree.string_value(arguments[0]) if arguments else None
            assert code is not None, f"line {ps_tree.line(command)}: error code is not a constant"
            used.add(code)
    assert used <= known, used - known


def test_failures_are_told_apart_by_codes_never_by_localised_messages(script):
    assert not re.search(r"\.Message\s*-(i|c)?(match|like|eq|ne|contains)", script.source, re.IGNORECASE)
    assert not re.search(r"-(i|c)?(match|like)\s+[^\n]*(denied|not found|timed out)", script.source, re.IGNORECASE)


def test_access_denied_names_the_fix(script):
    for fix in ("elevated", "LocalAccountTokenFilterPolicy", "CredSSP"):
        assert fix in script.source
