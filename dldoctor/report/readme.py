"""Regenerate README.md's table of checks from the registry: `python -m dldoctor.report.readme`."""

from __future__ import annotations

import sys
from pathlib import Path

from dldoctor.checks.registry import all_checks
from dldoctor.report.checks_table import (
    PROFILE_BEGIN,
    PROFILE_END,
    README_BEGIN,
    README_END,
    checks_table,
    profile_table,
)

_PROFILE_SECTION = f"## `dldoctor profile` findings\n\n{PROFILE_BEGIN}\n{PROFILE_END}\n\n"


def _fill(readme: str, begin: str, end: str, table: str) -> str:
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}{end}{tail}"


def with_table(readme: str) -> str:
    """The README text with the generated tables between their markers (the profile table's
    section is added before "## The compatibility matrix" the first time)."""
    from dldoctor.profilers.rules import all_rules

    if PROFILE_BEGIN not in readme:
        anchor = next(
            (a for a in ("## The compatibility matrix", "## Run the tests") if a in readme), None
        )
        head, _, tail = readme.partition(anchor) if anchor else (readme + "\n", "", "")
        readme = f"{head}{_PROFILE_SECTION}{anchor or ''}{tail}"
    readme = _fill(readme, README_BEGIN, README_END, checks_table(all_checks()))
    return _fill(readme, PROFILE_BEGIN, PROFILE_END, profile_table(all_rules()))


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
