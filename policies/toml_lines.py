"""Which line of a TOML file holds a field, so an error can say `line 12` and not only the field's
path. tomllib keeps no positions, so this reads the lines itself: table headers (`[a.b]`,
`[[rules]]`, counting each array-of-tables entry) and `key = value` lines. Inline tables and
multi-line values are not followed inside: a field there is placed on the line of its key."""

from __future__ import annotations

import re
from collections.abc import Sequence

Path = tuple[str | int, ...]

_KEY_PART = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY_PART)


def _parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[:1] in "\"'" else p for p in _PART.findall(dotted)]


def field_lines(text: str) -> dict[Path, int]:
    """Each table's and key's path (array-of-tables entries as 0-based ints) -> its 1-based line."""
    lines: dict[Path, int] = {}
    table: Path = ()
    counts: dict[Path, int] = {}
    open_brackets = 0  # inside a multi-line array: its lines are not keys
    for number, line in enumerate(text.splitlines(), start=1):
        if open_brackets > 0:
            open_brackets += line.count("[") - line.count("]")
            continue
        if match := _ARRAY_HEADER.match(line):
            base = _resolve(tuple(_parts(match.group(1))), counts)
            index = counts.get(base, -1) + 1
            counts[base] = index
            table = (*base, index)
            lines.setdefault(base, number)
            lines[table] = number
        elif match := _TABLE_HEADER.match(line):
            table = _resolve(tuple(_parts(match.group(1))), counts)
            lines.setdefault(table, number)
        elif match := _KEY_VALUE.match(line):
            path = (*table, *_parts(match.group(1)))
            lines.setdefault(path, number)
            value = line[match.end():].split("#", 1)[0]
            open_brackets = max(0, value.count("[") - value.count("]"))
    return lines


def _resolve(path: tuple[str, ...], counts: dict[Path, int]) -> Path:
    """`[rules.x]` after the second `[[rules]]` means rules[1].x: insert the current entry's index."""
    out: list[str | int] = []
    for part in path:
        out.append(part)
        if tuple(out) in counts and len(out) < len(path):
            out.append(counts[tuple(out)])
    return tuple(out)


def line_of(lines: dict[Path, int], path: Sequence[str | int]) -> int | None:
    """The line of `path`, else of its nearest enclosing table or key that has one."""
    for end in range(len(path), 0, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


def parse_dotted(text: str) -> Path:
    """`rules[2].requesters` (1-based, as messages print it) -> ('rules', 1, 'requesters')."""
    out: list[str | int] = []
    for part in text.split("."):
        match = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", part)
        if not match:
            return tuple(out)
        out.append(match.group(1))
        out += [int(n) - 1 for n in re.findall(r"\[(\d+)\]", match.group(2))]
    return tuple(out)
