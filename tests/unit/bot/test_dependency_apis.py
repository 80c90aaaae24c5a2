"""Our code stands on our dependencies' public APIs only, and the simulator checks the WinRM client
independently of it. A patch release may change anything private (a `_module`, a `_method`, a
class's identity), and every host would break at once with our tests none the wiser.

Imports are read from the source with `ast` (so an import inside a function counts too); method
overrides are read from the classes themselves."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parents[3]
OURS = ("bot", "commands", "policies")


def _sources(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imports(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names imported from it) for every import in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def test_nothing_private_of_a_dependency_is_imported():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module} {names or ''}"
        for path, tree in _sources(*OURS)
        for line, module, names in _imports(tree)
        if not _ours(module) and (any(_private(part) for part in module.split(".")) or any(map(_private, names)))
    ]
    assert found == []


def test_no_object_has_its_class_swapped():
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _sources(*OURS)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and target.attr == "__class__"
    ]
    assert found == []


def _our_modules() -> Iterator[str]:
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if not info.name.endswith("__main__"):
            yield info.name


def test_no_class_of_ours_overrides_a_private_method_of_a_dependency():
    found = []
    for name in _our_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != name:
                continue
            for attribute, value in vars(cls).items():
                method = value.__func__ if isinstance(value, classmethod | staticmethod) else value
                if not _private(attribute) or attribute.endswith("_") or not inspect.isfunction(method):
                    continue  # _sunder_ names (Enum's _missing_, ...) are public by their library's own rule
                for base in cls.__mro__[1:]:
                    if not _ours(base.__module__) and attribute in vars(base):
                        ours = f"{name}.{cls.__qualname__}.{attribute}"
                        found.append(f"{ours} overrides {base.__module__}.{base.__qualname__}")
    assert found == []


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "sim").glob("*.py")), ids=lambda p: p.name)
def test_the_simulator_imports_none_of_the_winrm_client_it_checks(path):
    """The simulated host runs the bot's PowerShell (bot.winrm.scripts: the scripts and the markers in
    them); its WS-Management, NTLM and message encryption are its own and pyspnego's."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = [
        (line, module, names)
        for line, module, names in _imports(tree)
        if (module == "bot.winrm" and names != ["scripts"])
        or (module.startswith("bot.winrm.") and module != "bot.winrm.scripts")
    ]
    assert found == []
