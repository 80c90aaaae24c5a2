"""Every script that travels to a host (the prelude and each operation's file) parses, follows the
house rules, and holds no server-wide command; so does each operation's whole stdin payload, which is
what the host runs as one script block."""

from __future__ import annotations

import re
from typing import get_args

from bot.app.results import ErrorCode
from bot.winrm.scripts import MARKER_PREFIX, PARAMS_VARIABLE, PRELUDE

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


def test_the_prelude_is_a_file_of_its_own_that_ends_with_a_line_break(prelude):
    # The operation's marker line follows it on stdin: it must start a line of its own.
    assert prelude.path.name == f"{PRELUDE}.ps1"
    assert prelude.source.strip()
    assert prelude.source.endswith("\n")


def test_every_script_parses_without_errors(sent_file, ps_tree):
    assert ps_tree.syntax_problems(sent_file.root) == []


def test_every_payload_parses_without_errors_as_one_script(payload, ps_tree):
    assert ps_tree.syntax_problems(payload.root) == []


def test_every_script_is_plain_ascii_so_no_codepage_can_mangle_it(sent_file):
    outside = sorted({char for char in sent_file.source if ord(char) > 127})
    assert outside == []


def test_the_marker_line_names_the_operation_of_its_file(script):
    markers = [
        (number, line) for number, line in enumerate(script.source.splitlines()) if line.startswith(MARKER_PREFIX)
    ]
    assert markers == [(0, f"{MARKER_PREFIX}{script.op}")]


def test_the_prelude_carries_no_marker_and_no_parameters_line(prelude):
    assert [line for line in prelude.source.splitlines() if line.startswith(MARKER_PREFIX)] == []
    assert [line for line in prelude.source.splitlines() if line.lstrip().startswith(PARAMS_VARIABLE)] == []


def test_a_payload_carries_exactly_one_marker_line_naming_its_operation(payload):
    markers = [line for line in payload.source.splitlines() if line.startswith(MARKER_PREFIX)]
    assert markers == [f"{MARKER_PREFIX}{payload.op}"]


def _assignment(statement, ps_tree) -> tuple[str, str] | None:
    assignment = next((n for n in ps_tree.walk(statement) if n.type == "assignment_expression"), None)
    if statement.type != "pipeline" or assignment is None:
        return None
    return ps_tree.text(assignment.children[0]).strip().lower(), ps_tree.text(assignment.children[-1]).strip()


def test_errors_stop_the_script_and_progress_is_silenced_before_anything_runs(payload, ps_tree):
    # The host runs: the parameters line (a constant), then the prelude, whose first statements these are.
    first = [_assignment(statement, ps_tree) for statement in ps_tree.top_level_statements(payload.root)[:3]]
    assert first[0] is not None and first[0][0] == PARAMS_VARIABLE.lower()
    assert first[1:] == [("$erroractionpreference", "'Stop'"), ("$progresspreference", "'SilentlyContinue'")]


def test_the_prelude_sets_the_preferences_first(prelude, ps_tree):
    first = [_assignment(statement, ps_tree) for statement in ps_tree.top_level_statements(prelude.root)[:2]]
    assert first == [("$erroractionpreference", "'Stop'"), ("$progresspreference", "'SilentlyContinue'")]


def test_no_operation_changes_the_preferences_the_prelude_set(script, ps_tree):
    assigned = {
        ps_tree.text(node).strip().lower()
        for node in ps_tree.walk(script.root)
        if node.type == "left_assignment_expression"
    }
    assert not assigned & {"$erroractionpreference", "$progresspreference", "$warningpreference"}


def test_parameters_are_decoded_from_the_base64_json_blob_and_never_assigned(prelude, ps_tree):
    decoded = [
        node
        for node in ps_tree.walk(prelude.root)
        if node.type == "invokation_expression"
        and re.search(r"::FromBase64String$", ps_tree.text(node).split("(")[0], re.IGNORECASE)
        and any(ps_tree.text(v).lower() == PARAMS_VARIABLE.lower() for v in ps_tree.walk(node) if v.type == "variable")
    ]
    assert decoded, "no [Convert]::FromBase64String($AspresetParams)"
    assert "convertfrom-json" in {name for name, _ in ps_tree.commands(prelude.root)}
    assert "[text.encoding]::utf8.getstring(" in prelude.source.lower()
    # Read-Parameters refuses parameters meant for another operation.
    assert "if ($params.op -ne $Op) { Stop-Operation 'bad_parameters'" in prelude.source


def test_no_script_assigns_the_parameters_variable(sent_file, ps_tree):
    assigned = [
        node
        for node in ps_tree.walk(sent_file.root)
        if node.type == "left_assignment_expression" and ps_tree.text(node).strip().lower() == PARAMS_VARIABLE.lower()
    ]
    assert assigned == []


def test_every_operation_reads_the_parameters_for_its_own_operation(script, ps_tree):
    reads = [command for name, command in ps_tree.commands(script.root) if name == "read-parameters"]
    assert len(reads) == 1
    assert [ps_tree.string_value(a) for a in ps_tree.command_arguments(reads[0])] == [script.op]


def test_no_operation_redefines_a_prelude_function(script, prelude, ps_tree):
    shared = set(ps_tree.function_definitions(prelude.root))
    assert sorted(shared & set(ps_tree.function_definitions(script.root))) == []


def test_no_script_builds_or_evaluates_code(sent_file, ps_tree):
    names = {name for name, _ in ps_tree.commands(sent_file.root)}
    assert not names & FORBIDDEN_COMMANDS
    lowered = sent_file.source.lower()
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


def test_no_script_holds_a_server_rung_command_even_in_a_comment(sent_file):
    found = {what for what, pattern in SERVER_RUNG.items() if re.search(pattern, sent_file.source, re.IGNORECASE)}
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


def test_processes_are_only_ever_stopped_by_id_never_by_name_or_pipeline(sent_file, ps_tree):
    for name, command in ps_tree.commands(sent_file.root):
        if name != "stop-process":
            continue
        parameters = ps_tree.command_parameters(command)
        assert "-id" in parameters and "-name" not in parameters and "-inputobject" not in parameters
        before = command.prev_sibling
        assert before is None or ps_tree.text(before) != "|", "Stop-Process fed by a pipeline"


def test_every_loop_that_waits_is_bounded_by_the_deadline(sent_file, ps_tree):
    loops = [node for node in ps_tree.walk(sent_file.root) if node.type in ("while_statement", "do_statement")]
    for loop in loops:
        assert "$deadlinems" in ps_tree.text(loop).lower(), f"unbounded loop at line {ps_tree.line(loop)}"


def test_the_only_output_is_one_compressed_ascii_escaped_json_of_the_result(payload, ps_tree):
    names = [name for name, _ in ps_tree.commands(payload.root)]
    assert names.count("write-output") == 1
    assert not {"write-host", "out-host", "out-default", "write-information", "out-file"} & set(names)
    assert "[console]::" not in payload.source.lower()
    conversions = [command for name, command in ps_tree.commands(payload.root) if name == "convertto-json"]
    assert [ps_tree.text(c) for c in conversions] == ["ConvertTo-Json -InputObject $result -Compress -Depth 5"]
    assert "[regex]::Replace($json, '[^\\x00-\\x7F]', { param($m) '\\u{0:x4}' -f [int]$m.Value[0] })" in payload.source
    assert payload.source.rstrip().endswith("exit 0")


def test_the_prelude_writes_the_result_in_one_function_and_prints_nothing_itself(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    writers = sorted(
        function
        for function, node in library.items()
        if any(name in ("write-output", "convertto-json") for name, _ in ps_tree.commands(node))
    )
    assert writers == ["write-result"]
    # At its top level the prelude only sets variables, defines functions and drops a type's extended data.
    for statement in ps_tree.top_level_statements(prelude.root):
        if statement.type == "function_statement" or _assignment(statement, ps_tree) is not None:
            continue
        assert statement.type == "try_statement", ps_tree.text(statement)
        assert [name for name, _ in ps_tree.commands(statement)] == ["remove-typedata"]
    flow = [ps_tree.text(n).lower() for n in ps_tree.walk(prelude.root) if n.type == "flow_control_statement"]
    assert [statement for statement in flow if statement.split()[0] == "exit"] == []


def test_every_operation_runs_itself_once_then_writes_its_result_once_and_exits_0(script, ps_tree):
    assert "$null = Invoke-Operation" in script.source
    calls = [name for name, _ in ps_tree.commands(script.root)]
    assert calls.count("write-result") == 1 and calls.count("write-output") == 0
    last = [ps_tree.text(s) for s in ps_tree.top_level_statements(script.root)[-2:]]
    assert last == ["Write-Result", "exit 0"]


def test_every_failure_is_caught_into_the_result_with_an_error_code(script, prelude, ps_tree):
    top_level_tries = [node for node in ps_tree.top_level_statements(script.root) if node.type == "try_statement"]
    guarded = [t for t in top_level_tries if "Invoke-Operation" in ps_tree.text(t)]
    assert len(guarded) == 1
    catch = ps_tree.text(guarded[0]).split("catch", 1)[1]
    assert "Set-Failure $_.Exception" in catch
    set_failure = ps_tree.text(ps_tree.function_definitions(prelude.root)["set-failure"])
    assert "$result.ok = $false" in set_failure
    assert "$result.error_code = Get-ErrorCode" in set_failure


def test_every_error_code_a_script_reports_is_one_the_contract_knows(sent_file, ps_tree):
    known = set(get_args(ErrorCode))
    used = set()
    for name, command in ps_tree.commands(sent_file.root):
        if name == "stop-operation":
            arguments = ps_tree.command_arguments(command)
            code = ps_tree.string_value(arguments[0]) if arguments else None
            assert code is not None, f"line {ps_tree.line(command)}: error code is not a constant"
            used.add(code)
    assert used <= known, used - known


def test_failures_are_told_apart_by_codes_never_by_localised_messages(sent_file):
    assert not re.search(r"\.Message\s*-(i|c)?(match|like|eq|ne|contains)", sent_file.source, re.IGNORECASE)
    assert not re.search(r"-(i|c)?(match|like)\s+[^\n]*(denied|not found|timed out)", sent_file.source, re.IGNORECASE)


def test_access_denied_names_the_fix(payload):
    for fix in ("elevated", "LocalAccountTokenFilterPolicy", "CredSSP"):
        assert fix in payload.source
