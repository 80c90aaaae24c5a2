"""Reads the PowerShell operations (bot/winrm/*.ps1) through tree-sitter-powershell's parse tree.

What a host receives is the parameters line, the prelude (prelude.ps1: the helpers the operations
share) and the operation's own file, as one script block. The fixtures give each of those files and
each operation's whole stdin payload.

The result-key check relies on one convention the scripts follow and the tests enforce: a script's
result is `$result = [ordered]@{...}` listing every key in the operation's own file, later filled by
`$result.key = ...` (in the operation's file, or in a prelude function it calls), and every nested
result object (a worker, a site, an app, a pool) is an `[ordered]@{...}` literal too. Plain `@{...}`
hashtables are for everything else (splatting, internal records) and never reach the JSON.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest
import tree_sitter_powershell
from pydantic import BaseModel
from tree_sitter import Language, Node, Parser

import bot.winrm
from bot.app.results import Operation, OperationParams
from bot.winrm.scripts import PRELUDE, PRELUDE_FILES, prelude_source, stdin_payload

SCRIPTS_DIR = Path(bot.winrm.__file__).resolve().parent
OPERATIONS: tuple[str, ...] = get_args(Operation)
SENT_FILES: tuple[str, ...] = (*PRELUDE_FILES, *OPERATIONS)
PRELUDE_FILE = f"{PRELUDE}.ps1"
RESULT_VARIABLE = "$result"

_PARSER = Parser(Language(tree_sitter_powershell.language()))


@dataclass(frozen=True)
class Script:
    op: str  # the operation, or PRELUDE for the prelude
    path: Path | None  # None for a whole stdin payload
    source: str
    root: Node


def parse(source: str) -> Node:
    return _PARSER.parse(source.encode("utf-8")).root_node


def load_script(name: str) -> Script:
    """One .ps1 file: an operation's or a prelude file's (by its name); PRELUDE is the whole prelude,
    its files one after the other as they travel (its line numbers are those of prelude.ps1 first)."""
    path = SCRIPTS_DIR / f"{name}.ps1"
    source = prelude_source() if name == PRELUDE else path.read_text(encoding="utf-8")
    return Script(name, path, source, parse(source))


def load_payload(op: str) -> Script:
    """All that stdin carries for one operation: parameters line, prelude, the operation's file."""
    source = stdin_payload(OperationParams(op=op))  # type: ignore[arg-type]
    return Script(op, None, source, parse(source))


@pytest.fixture(params=OPERATIONS)
def script(request: pytest.FixtureRequest) -> Script:
    """Each operation's own script file, parsed."""
    return load_script(request.param)


@pytest.fixture
def prelude() -> Script:
    """The prelude sent in front of every operation's script, parsed."""
    return load_script(PRELUDE)


@pytest.fixture(params=SENT_FILES)
def sent_file(request: pytest.FixtureRequest) -> Script:
    """Every .ps1 file that travels to a host (the prelude and each operation's), parsed."""
    return load_script(request.param)


@pytest.fixture(params=OPERATIONS)
def payload(request: pytest.FixtureRequest) -> Script:
    """Each operation's whole stdin payload, parsed as the one script block the host runs."""
    return load_payload(request.param)


@pytest.fixture(scope="session")
def ps_tree() -> ModuleType:
    """This module: the parse-tree readers below (test modules cannot import a conftest)."""
    return sys.modules[__name__]


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def line(node: Node) -> int:
    return node.start_point[0] + 1


def top_level_statements(root: Node) -> list[Node]:
    """The statements of the script body itself, in order (comments left out)."""
    body = next((child for child in root.children if child.type == "statement_list"), None)
    return [child for child in body.children if child.type != "comment"] if body is not None else []


def syntax_problems(root: Node) -> list[str]:
    return [
        f"line {line(node)}: {'missing ' + node.type if node.is_missing else 'cannot parse'} near {text(node)[:60]!r}"
        for node in walk(root)
        if node.type == "ERROR" or node.is_missing
    ]


def commands(root: Node) -> list[tuple[str, Node]]:
    """Every command invocation as (lower-case name, node)."""
    found = []
    for node in walk(root):
        if node.type == "command":
            name = next((child for child in node.children if child.type == "command_name"), None)
            if name is not None:
                found.append((text(name).lower(), node))
    return found


def command_parameters(command: Node) -> list[str]:
    return [text(node).lower() for node in walk(command) if node.type == "command_parameter"]


def command_arguments(command: Node) -> list[Node]:
    """The positional and parameter-value elements of a command, in order (no separators, no -Names)."""
    elements = next((child for child in command.children if child.type == "command_elements"), None)
    if elements is None:
        return []
    return [child for child in elements.children if child.type not in ("command_argument_sep", "command_parameter")]


def string_value(node: Node) -> str | None:
    """The value of a constant string (quoted or bare word); None when it is built at run time."""
    literal = [n for n in walk(node) if n.type in ("verbatim_string_characters", "expandable_string_literal")]
    if literal:
        raw = text(literal[0])
        if raw[0] == '"' and re.search(r"\$|`", raw):
            return None
        return raw[1:-1]
    words = [n for n in walk(node) if n.type in ("simple_name", "generic_token")]
    if len(words) == 1 and not any(n.type == "variable" for n in walk(node)):
        return text(words[0])
    return None


def is_ordered_literal(node: Node) -> bool:
    if node.type != "hash_literal_expression":
        return False
    unary = node.parent
    cast = unary.parent if unary is not None else None
    if cast is None or cast.type != "cast_expression":
        return False
    type_literal = next((child for child in cast.children if child.type == "type_literal"), None)
    return type_literal is not None and re.sub(r"\s", "", text(type_literal)).lower() == "[ordered]"


def literal_keys(hash_literal: Node) -> list[str]:
    """The keys of one hashtable literal's own entries (nested literals are separate)."""
    body = next((child for child in hash_literal.children if child.type == "hash_literal_body"), None)
    keys = []
    for entry in body.children if body is not None else []:
        if entry.type != "hash_entry":
            continue
        key = next(child for child in entry.children if child.type == "key_expression")
        value = string_value(key)
        keys.append(value if value is not None else f"<computed key {text(key)!r}>")
    return keys


def _assigned_variable(assignment: Node) -> Node | None:
    return next((child for child in assignment.children if child.type == "left_assignment_expression"), None)


def result_literals(root: Node) -> list[Node]:
    """The `[ordered]@{...}` literals assigned straight to `$result`."""
    found = []
    for node in walk(root):
        if node.type != "assignment_expression":
            continue
        left = _assigned_variable(node)
        if left is None or text(left).strip().lower() != RESULT_VARIABLE:
            continue
        value = node.children[-1]
        literal = next((n for n in walk(value) if n.type == "hash_literal_expression"), None)
        if literal is not None and is_ordered_literal(literal):
            found.append(literal)
    return found


def written_result_keys(root: Node) -> list[tuple[str, int]]:
    """Keys assigned later as `$result.key = ...` or `$result['key'] = ...`, with their line."""
    found = []
    for node in walk(root):
        if node.type == "assignment_expression":
            left = _assigned_variable(node)
            target = (
                next((n for n in walk(left) if n.type in ("member_access", "element_access")), None) if left else None
            )
            if target is None or text(target.children[0]).lower() != RESULT_VARIABLE:
                continue
            key_node = target.children[-1] if target.type == "member_access" else target.children[2]
            key = string_value(key_node)
            found.append((key if key is not None else f"<computed key {text(key_node)!r}>", line(node)))
        elif node.type == "invokation_expression" and text(node.children[0]).lower() == RESULT_VARIABLE:
            found.append((f"<key added by {text(node)[:40]!r}>", line(node)))
    return found


def nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `model`'s fields (list[X], X | None, ...), depth first."""
    found: list[type[BaseModel]] = []

    def visit(annotation: object) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for argument in get_args(annotation):
            visit(argument)

    for field in model.model_fields.values():
        visit(field.annotation)
    return found


def _compare(what: str, keys: list[str], model: type[BaseModel]) -> list[str]:
    fields = set(model.model_fields)
    problems = []
    missing = sorted(fields - set(keys))
    unexpected = sorted(set(keys) - fields)
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if missing:
        problems.append(f"{what} lacks {model.__name__} field(s) {missing}")
    if unexpected:
        problems.append(f"{what} has key(s) {unexpected} that {model.__name__} does not have")
    if duplicated:
        problems.append(f"{what} repeats key(s) {duplicated}")
    return problems


def function_definitions(root: Node) -> dict[str, Node]:
    """The script's top-level `function Name ...` statements, by lower-case name."""
    found = {}
    for statement in top_level_statements(root):
        if statement.type == "function_statement":
            name = next(child for child in statement.children if child.type == "function_name")
            found[text(name).lower()] = statement
    return found


def reachable_functions(root: Node, library: dict[str, Node]) -> list[str]:
    """The names of the `library` functions that code under `root` calls, directly or through each other."""
    seen: set[str] = set()
    todo = [name for name, _ in commands(root) if name in library]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [called for called, _ in commands(library[name]) if called in library]
    return sorted(seen)


def prelude_parts_run_by(root: Node, prelude_root: Node) -> list[Node]:
    """What of the prelude runs for the script `root`: its top-level statements other than function
    definitions, and every prelude function the script reaches."""
    library = function_definitions(prelude_root)
    always = [n for n in top_level_statements(prelude_root) if n.type != "function_statement"]
    return always + [library[name] for name in reachable_functions(root, library)]


def key_problems(source: str, model: type[BaseModel], prelude: str | None = None) -> list[str]:
    """Differences between the keys a script writes into its JSON result and `model`'s fields,
    nested models included. Empty when they match exactly. With `prelude`, what the prelude
    functions the script calls write into `$result` (and build as [ordered] literals) counts too."""
    root = parse(source)
    problems: list[str] = []
    top = result_literals(root)
    if len(top) != 1:
        return [f"expected exactly one `$result = [ordered]@{{...}}`, found {len(top)}"]
    problems += _compare(f"the $result literal (line {line(top[0])})", literal_keys(top[0]), model)

    # (where, node) pairs: the script's own code, then the prelude code that runs for it.
    parts: list[tuple[str, Node]] = [("line", root)]
    if prelude is not None:
        prelude_root = parse(prelude)
        for literal in result_literals(prelude_root):
            problems.append(f"{PRELUDE_FILE} line {line(literal)}: the prelude assigns a $result literal")
        parts += [(f"{PRELUDE_FILE} line", part) for part in prelude_parts_run_by(root, prelude_root)]

    nested = nested_models(model)
    built: set[type[BaseModel]] = set()
    for where, part in parts:
        for key, at in written_result_keys(part):
            if key not in model.model_fields:
                problems.append(f"{where} {at}: $result gets key {key!r} that {model.__name__} does not have")
        for literal in (n for n in walk(part) if is_ordered_literal(n) and n not in top):
            keys = literal_keys(literal)
            exact = [m for m in nested if set(m.model_fields) == set(keys) and len(keys) == len(set(keys))]
            if exact:
                built.update(exact)
                continue
            if not nested:
                problems.append(
                    f"{where} {line(literal)}: an [ordered] literal {keys} but {model.__name__} nests no model"
                )
                continue
            closest = min(nested, key=lambda m: len(set(m.model_fields) ^ set(keys)))
            problems += _compare(f"the [ordered] literal at {where} {line(literal)}", keys, closest)
    for missing in (m for m in nested if m not in built):
        problems.append(f"no [ordered] literal builds a {missing.__name__}")
    return problems
