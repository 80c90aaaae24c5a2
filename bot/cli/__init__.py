"""The `aspreset` command: argument parsing (commands.py), the exit-code table (exit_codes.py) and
the text renderers of the core's views (render.py)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from bot.cli.commands import main as run  # lazy: the renderers are imported by other front ends

    return run(argv)
