"""README.md stays true: its checks table is generated, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

from dldoctor.report.readme import with_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", README, flags=re.S)]


def test_checks_table_is_generated_from_the_registry():
    assert with_table(README) == README, "README is stale: run `python -m dldoctor.report.readme`"


def test_readme_gives_exactly_two_commands_one_for_check_one_for_tests():
    blocks = _sh_blocks()
    assert len(blocks) == 2
    assert all("\n" not in b for b in blocks)
    assert blocks[0].endswith("dldoctor check")
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _sh_blocks()[1] in ci.splitlines()
