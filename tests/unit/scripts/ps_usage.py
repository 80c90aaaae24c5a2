"""What the PowerShell operations use, read from tree-sitter-powershell's parse tree: each command with
the parameters it is given, each .NET type named (type literals, casts, `-is`, `catch [T]`,
`New-Object T`) and each static member (`[T]::Member`), with its file and line.

Shared by the compatibility test (test_powershell_compatibility.py) and the script that regenerates
its committed subset of PSScriptAnalyzer's profiles (tools/regenerate_ps_compat.py), so both read
the scripts the same way. Functions the scripts define themselves are not commands to look up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

SCRIPTS_DIR = Path(__file__).resolve().parents[3] / "bot" / "winrm"
_PARSER = Parser(Language(tree_sitter_powershell.language()))
# Parsed by the language itself since 3.0, not a type accelerator: [ordered]@{...}.
LANGUAGE_TYPES = frozenset({"ordered"})


@dataclass(frozen=True)
class CommandUse:
    file: str
    line: int
    name: str
    parameters: tuple[str, ...]  # without the leading '-', as written


@dataclass(frozen=True)
class TypeUse:
    file: str
    line: int
    name: str  # as written, without brackets and array suffixes


@dataclass(frozen=True)
class MemberUse:
    file: str
    line: int
    type_name: str
    member: str


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _type_name(literal: str) -> str:
    name = re.sub(r"\s", "", literal).strip("[]")
    return re.sub(r"(\[\])+$", "", name)


def script_files() -> list[Path]:
    return sorted(SCRIPTS_DIR.glob("*.ps1"))


def defined_functions(roots: list[Node]) -> set[str]:
    names = set()
    for root in roots:
        for node in _walk(root):
            if node.type == "function_statement":
                name = next(child for child in node.children if child.type == "function_name")
                names.add(_text(name).lower())
    return names


def usage(files: list[Path] | None = None) -> tuple[list[CommandUse], list[TypeUse], list[MemberUse]]:
    """Every command, type and static member the scripts use (the bootstrap in scripts.py aside)."""
    paths = files or script_files()
    parsed = [(path.name, _PARSER.parse(path.read_bytes()).root_node) for path in paths]
    own = defined_functions([root for _, root in parsed])
    commands: list[CommandUse] = []
    types: list[TypeUse] = []
    members: list[MemberUse] = []
    for name, root in parsed:
        for node in _walk(root):
            if node.type == "command":
                commands += _command(name, node, own, types)
            elif node.type == "type_literal":
                types.append(TypeUse(name, _line(node), _type_name(_text(node))))
                parent = node.parent
                siblings = parent.children if parent is not None else []
                index = siblings.index(node) if node in siblings else -1
                if 0 <= index < len(siblings) - 2 and _text(siblings[index + 1]) == "::":
                    member = siblings[index + 2]
                    if member.type == "member_name":
                        members.append(MemberUse(name, _line(node), _type_name(_text(node)), _text(member)))
    return commands, types, members


def _command(file: str, node: Node, own: set[str], types: list[TypeUse]) -> list[CommandUse]:
    name_node = next((child for child in node.children if child.type == "command_name"), None)
    if name_node is None or _text(name_node).lower() in own:
        return []
    name = _text(name_node)
    parameters = tuple(_text(p).lstrip("-").rstrip(":") for p in _walk(node) if p.type == "command_parameter")
    if name.lower() == "new-object":
        elements = next((child for child in node.children if child.type == "command_elements"), None)
        first = next((c for c in (elements.children if elements else []) if c.type == "generic_token"), None)
        if first is not None:
            types.append(TypeUse(file, _line(node), _text(first)))
    return [CommandUse(file, _line(node), name, parameters)]
