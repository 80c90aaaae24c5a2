"""A TOML file's problems as sentences a person can act on: the file, the line, the field with
1-based positions (`rules[1].effect` is the first rule), what was expected and what was found.
pydantic's and tomllib's own wording ("Input should be ...", "Extra inputs are not permitted",
"hour value is outside expected range", "Invalid value (at line 3, column 9)") never reaches the
person: each kind of error is said here in our words."""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.toml_lines import Path, field_lines, line_of, parse_dotted


def field_path(loc: Sequence[str | int]) -> str:
    """('rules', 0, 'effect') -> 'rules[1].effect'; keys that are not plain words are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            out += f".{shown}" if out else shown
    return out


def validation_problems(error: ValidationError, model: type[BaseModel], text: str) -> list[str]:
    """One sentence per problem, each starting with `line N: ` when the line is known."""
    lines = field_lines(text)
    return [_with_line(lines, item, model) for item in error.errors()]


def toml_problem(error: tomllib.TOMLDecodeError) -> str:
    """`line 3, column 9: not valid TOML: a value must be quoted text, a number, ...`."""
    raw = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)|\(at end of document\)", raw)
    where = f"line {match.group(1)}, column {match.group(2)}: " if match and match.group(1) else ""
    what = raw[: match.start()].strip() if match else raw
    return f"{where}not valid TOML: {_TOML_WORDS.get(what, what[:1].lower() + what[1:])}"


_TOML_WORDS = {
    "Invalid value": 'a value must be "quoted text", a number, true/false, a [list] or a date; '
    "text needs double quotes",
    "Expected '=' after a key in a key/value pair": "expected `key = value` on this line",
    "Cannot overwrite a value": "this key is set twice (or a table repeats a key set before)",
    "Cannot declare (\"table\",) twice": "this table is declared twice",
    "Unclosed array": "a [list is not closed with ]",
    "Unclosed inline table": "an { inline table is not closed with }",
    "Invalid statement": "expected `key = value` or a [table] header on this line",
    "Expected newline or end of document after a statement": "only one `key = value` per line",
    "Illegal character '\\n'": "a quoted text is not closed on its line",
    "Unterminated string": "a quoted text is not closed",
}


def _with_line(lines: dict[Path, int], item: Any, model: type[BaseModel]) -> str:
    loc = tuple(part for part in item.get("loc", ()) if part is not None)
    sentence = describe(item, model)
    line = line_of(lines, loc) if loc else _line_named_in(lines, sentence)
    return f"line {line}: {sentence}" if line else sentence


def _line_named_in(lines: dict[Path, int], sentence: str) -> int | None:
    """A whole-file check names its field at the start of its message (`sites.shop.hosts names ...`)."""
    match = re.match(r"([A-Za-z0-9_.\[\]-]+)", sentence)
    return line_of(lines, parse_dotted(match.group(1))) if match else None


def describe(item: Any, model: type[BaseModel]) -> str:
    loc = tuple(part for part in item.get("loc", ()) if part is not None)
    kind, ctx, got = item.get("type", ""), item.get("ctx") or {}, item.get("input")
    message = _sentence(kind, ctx, got, loc, model) or _our_words(str(item.get("msg", "invalid")))
    return f"{field_path(loc)}: {message}" if loc else message


def _sentence(
    kind: str, ctx: dict[str, Any], got: Any, loc: tuple[str | int, ...], model: type[BaseModel]
) -> str | None:
    shown = _shown(got)
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), known, n=1) if known else []
        hint = f"; did you mean {near[0]!r}?" if near else ""
        listed = f" (this table takes: {', '.join(known)})" if known and not near else ""
        return f"unknown key{hint}{listed}"
    if kind == "missing":
        return "is required but missing"
    if kind in ("literal_error", "enum"):
        options = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"expected one of {options}, got {shown}"
    simple = {
        "int_parsing": "expected a whole number", "int_type": "expected a whole number",
        "int_from_float": "expected a whole number", "float_parsing": "expected a number",
        "float_type": "expected a number", "bool_type": "expected true or false",
        "bool_parsing": "expected true or false", "string_type": 'expected "quoted text"',
        "list_type": 'expected a list like ["a", "b"]', "dict_type": "expected a table",
        "model_type": "expected a table", "model_attributes_type": "expected a table",
        "time_parsing": 'expected a time of day "HH:MM" (hours 00-23, minutes 00-59)',
        "time_type": 'expected a time of day "HH:MM" (hours 00-23, minutes 00-59)',
    }
    if kind in simple:
        return f"{simple[kind]}, got {shown}"
    bounds = {"greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "more than"),
              "less_than_equal": ("le", "at most"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, words = bounds[kind]
        bound = ctx.get(key)
        return f"must be {words} {bound:g}, got {shown}" if isinstance(bound, float) else \
            f"must be {words} {bound}, got {shown}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"{shown} is not in the expected form"
    return None


def _our_words(message: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r"^Input should be ", "expected ", message)


def _shown(got: Any) -> str:
    if isinstance(got, dict):
        return "a table"
    if isinstance(got, list):
        return "a list"
    return repr(got) if not isinstance(got, bool) else str(got).lower()


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the table at `loc` takes, by walking the model's field types."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    return sorted(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return _unwrap(field.annotation) if field else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple) and args:
        return _unwrap(args[0])
    if origin is dict and len(args) == 2:
        return _unwrap(args[1])
    return None


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X; `Annotated[X, ...]` -> X."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation
