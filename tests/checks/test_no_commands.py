"""No check writes a command: every command a check's fix carries is rendered by fixes/ from intents.

Two guards. Structurally, over the sources: a check builds a `Fix` from words only (its summary,
notes), never with commands, and never calls a renderer itself. Behaviourally, over every
finding of the recorded corpus and scenario machines: a fix's commands are exactly what
`fixes.intents` renders for its intents on those facts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dldoctor.checks

CHECKS = Path(dldoctor.checks.__file__).parent
# What would render a command in a check: fixes/' renderers and command builders.
RENDERERS = {"render", "render_all", "rerun", "shown", "remove", "install"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


@pytest.mark.parametrize("path", sorted(CHECKS.glob("*.py")), ids=lambda p: p.name)
def test_a_check_builds_fixes_from_words_and_intents_only(path):
    tree = ast.parse(path.read_text(), str(path))
    bad = []
    for call in _calls(tree):
        name = _name(call)
        if name == "Fix" and (
            len(call.args) > 1 or any(k.arg == "commands" for k in call.keywords)
        ):
            bad.append(f"{path.name}:{call.lineno}: Fix(...) given commands")
        if (name in RENDERERS and not isinstance(call.func, ast.Name)) or name in (
            "render",
            "rerun",
        ):
            owner = getattr(call.func, "value", None)
            if name in ("render", "rerun") or getattr(owner, "id", "") in (
                "conda",
                "conda_installer",
            ):
                bad.append(f"{path.name}:{call.lineno}: calls a renderer ({name})")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dldoctor.fixes"):
            names = {a.name for a in node.names}
            if node.module in (
                "dldoctor.fixes.commands",
                "dldoctor.fixes.shell",
                "dldoctor.fixes.system",
            ):
                bad.append(f"{path.name}:{node.lineno}: imports {node.module} {sorted(names)}")
            if names & {"render", "render_all", "conda"}:
                bad.append(
                    f"{path.name}:{node.lineno}: imports {sorted(names & {'render', 'render_all', 'conda'})}"
                )
    assert not bad, "\n".join(bad)
