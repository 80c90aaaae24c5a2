"""The import rules of docs/architecture.md: the core (bot/app) imports no I/O library and nothing of
ours outside bot.app, commands and policies; commands/ and policies/ import nothing of the bot;
adapters import no front end; front ends use each other only through their entry points; bot/ holds
only the composition root, config and logs. Read from the source with `ast`, so an import inside a
function, under TYPE_CHECKING or through importlib counts too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "bot" / "app"

IO_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "psycopg2",
        "winrm",
        "requests",
        "httpx",
        "slack_bolt",
        "slack_sdk",
        "mcp",
        "rich",
        "uvicorn",
        "starlette",
        "socket",
        "subprocess",
        "http.client",
        "urllib.request",
        "prometheus_client",
    }
)
OUR_PACKAGE, CORE_PACKAGE = "bot", "bot.app"


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    module: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.module} ({self.why})"


def _package_of(path: Path, root: Path, root_package: str) -> list[str]:
    relative = path.relative_to(root).with_suffix("")
    parts = [*root_package.split("."), *relative.parts]
    return parts[:-1]  # a module's package; an __init__'s package is its own directory's


def _imported(tree: ast.AST, package: list[str]) -> Iterator[tuple[int, list[str]]]:
    """For every import in the tree: its line and the absolute names it may bring in (for
    `from bot import store`: bot and bot.store)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, [alias.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, [first.value]


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _why_not(module: str) -> str | None:
    library = next((lib for lib in sorted(IO_LIBRARIES) if _within(module, lib)), None)
    if library is not None:
        return f"{library} is an I/O library"
    if _within(module, OUR_PACKAGE) and module != OUR_PACKAGE and not _within(module, CORE_PACKAGE):
        return "outside bot.app: the core imports no adapter or front end"
    return None


def violations(root: Path, root_package: str = CORE_PACKAGE) -> list[Violation]:
    """Every forbidden import under `root` (the package `root_package`), in file and line order."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, names in _imported(tree, _package_of(path, root, root_package)):
            flagged = next(((name, why) for name in names if (why := _why_not(name)) is not None), None)
            if flagged is not None:
                found.append(Violation(path, line, *flagged))
    return sorted(found, key=lambda v: (str(v.path), v.line, v.module))


def test_the_core_imports_no_io_library_and_no_adapter() -> None:
    assert list(CORE.glob("*.py")), f"no modules found under {CORE}"
    found = violations(CORE)
    assert found == [], "the core must reach the world only through its ports:\n" + "\n".join(map(str, found))


def test_the_check_names_the_file_and_line_of_each_planted_import(tmp_path: Path) -> None:
    core = tmp_path / "bot" / "app"
    core.mkdir(parents=True)
    (core / "clean.py").write_text("from bot.app.errors import ConfigError\nfrom commands.rungs import Rung\n")
    (core / "planted.py").write_text(
        "from __future__ import annotations\n"
        "import socket\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlalchemy.engine import Engine\n"
        "def later():\n"
        "    import subprocess\n"
        "    from ..store import sql\n"
        "    from bot import winrm\n"
        "    import importlib\n"
        "    return importlib.import_module('slack_sdk.web')\n"
    )

    found = violations(core)

    assert [(v.path.name, v.line, v.module) for v in found] == [
        ("planted.py", 2, "socket"),
        ("planted.py", 5, "sqlalchemy.engine"),
        ("planted.py", 7, "subprocess"),
        ("planted.py", 8, "bot.store"),
        ("planted.py", 9, "bot.winrm"),
        ("planted.py", 11, "slack_sdk.web"),
    ]
    assert str(found[0]) == f"{core / 'planted.py'}:2: imports socket (socket is an I/O library)"


# ---- the rest of the layout (docs/architecture.md, "What may import what") ----------------------

ROOT = CORE.parents[1]
FRONT_ENDS = ("cli", "slack", "mcp", "http", "demo")
ADAPTERS = ("winrm", "store", "sim", "drain", "metrics", "runner")
ENTRY_POINTS = {
    # what one front end may use of another: where it starts, never its internals
    "cli": ("bot.cli.render", "bot.cli.serve"),  # the console's text; the Slack demo runs `serve`
    "slack": ("bot.slack.serving",),
    "mcp": ("bot.mcp.server", "bot.mcp.http", "bot.mcp.services", "bot.mcp.stdio"),
    "http": ("bot.http.asgi", "bot.http.webhook", "bot.http.loopback"),  # the one ASGI app that carries the others
    "demo": ("bot.demo",),
}


def _imports_of(package_dir: Path, package: str) -> Iterator[tuple[Path, int, str]]:
    """Each import's most specific name (`from bot import store`: bot.store)."""
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, names in _imported(tree, _package_of(path, package_dir, package)):
            for name in names if len(names) == 1 else names[1:]:
                yield path, line, name


def test_commands_and_policies_import_nothing_of_the_bot() -> None:
    found = [f"{path}:{line}: imports {module}"
             for package in ("commands", "policies")
             for path, line, module in _imports_of(ROOT / package, package) if _within(module, OUR_PACKAGE)]
    assert found == [], "commands/ and policies/ are pure:\n" + "\n".join(found)


def test_front_ends_use_each_other_only_through_their_entry_points() -> None:
    found = []
    for front in FRONT_ENDS:
        for path, line, module in _imports_of(ROOT / "bot" / front, f"bot.{front}"):
            other = next((o for o in FRONT_ENDS if o != front and _within(module, f"bot.{o}")), None)
            if other is not None and not any(_within(module, entry) for entry in ENTRY_POINTS[other]):
                found.append(f"{path}:{line}: imports {module} (bot/{other}'s entry points: {ENTRY_POINTS[other]})")
    assert found == [], "\n".join(found)


def test_adapters_import_no_front_end() -> None:
    found = [f"{path}:{line}: imports {module}"
             for adapter in ADAPTERS
             for path, line, module in _imports_of(ROOT / "bot" / adapter, f"bot.{adapter}")
             if any(_within(module, f"bot.{front}") for front in FRONT_ENDS)]
    assert found == [], "adapters serve the core, not a front end:\n" + "\n".join(found)


def test_the_bot_root_holds_only_the_composition_root_config_and_logs() -> None:
    modules = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert modules == ["__init__.py", "bootstrap.py", "config.py", "logs.py"]
