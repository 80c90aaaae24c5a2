"""Which database each config file has been used with, so that two front ends of one config that
would split requests, locks and the audit trail between two databases (one started with --db or
ASPRESET_DB, the other without) are told so, once. Kept as a small JSON file in the per-user
state directory; losing it only means the warning may be said again."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bot.config import state_directory
from bot.store.database import parse_url, safe_url

REGISTRY_NAME = "databases.json"


def note_database(config_path: Path, db_url: str, source: str, env: dict[str, str]) -> str | None:
    """Records `db_url` for `config_path`; returns a warning the first time this config is used with
    a database other than one it was used with before, else None."""
    registry = state_directory(env) / REGISTRY_NAME
    try:
        seen: dict[str, dict[str, str]] = json.loads(registry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = {}
    config = str(config_path.resolve())
    shown = safe_url(parse_url(db_url))
    databases = seen.setdefault(config, {})
    if shown in databases:
        return None
    others = sorted(databases.items())
    databases[shown] = source
    _write(registry, seen)
    if not others:
        return None
    listed = "; ".join(f"{url} (from {where})" for url, where in others)
    return (f"{config_path} has been used with another database: {listed}. This command uses {shown} (from "
            f"{source}), so requests, locks and the audit trail are split between them. Set db = \"...\" in "
            f"{config_path.name} and drop --db/ASPRESET_DB so every front end shares one")


def _write(registry: Path, seen: dict[str, dict[str, str]]) -> None:
    try:
        registry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=registry.parent, delete=False, encoding="utf-8") as out:
            json.dump(seen, out, indent=1)
        os.replace(out.name, registry)
    except OSError:
        pass  # a read-only home: the warning is a courtesy, never a reason to fail a command
