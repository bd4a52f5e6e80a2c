"""Regenerate README.md's table of checks from the registry: `python -m dldoctor.report.readme`."""

from __future__ import annotations

import sys
from pathlib import Path

from dldoctor.checks.registry import all_checks
from dldoctor.report.checks_table import README_BEGIN, README_END, checks_table


def with_table(readme: str) -> str:
    """The README text with the generated table between its markers."""
    head, _, rest = readme.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_BEGIN}\n{checks_table(all_checks())}{README_END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
