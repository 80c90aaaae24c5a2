"""Writes one benchmark's section of docs/benchmarks.md, between its own start and end markers."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(start: str, end: str, section: str, docs: Path = DOCS) -> None:
    """`section` includes both markers; a section already there is replaced, else appended."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    docs.write_text(text, encoding="utf-8")
    print(f"updated {docs}", file=sys.stderr)
