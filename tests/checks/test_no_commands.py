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
from dldoctor.checks.registry import run_checks
from dldoctor.facts.model import Facts
from dldoctor.fixes.intents import render_all
from dldoctor.matrix import load
from dldoctor.model import Fix
from tests.cases import corpus
from tests.checks.intent_machines import SCENARIOS
from tests.fixes.golden_plans import facts_of

CHECKS = Path(dldoctor.checks.__file__).parent
MATRIX = load()
# A check may name intents and call fixes/' fix builders; never the modules that write words.
FORBIDDEN_MODULES = ("dldoctor.fixes.commands", "dldoctor.fixes.shell", "dldoctor.fixes.system")
FORBIDDEN_NAMES = {"render", "render_all", "conda", "pip", "uv", "rerun", "shown"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _renders(call: ast.Call) -> str | None:
    """What renderer the call is, if it is one: `render(...)`, `rerun(...)`, `conda.install(...)`."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in ("render", "render_all", "rerun", "shown"):
        return func.id
    owner = getattr(getattr(func, "value", None), "id", "")
    if isinstance(func, ast.Attribute) and owner in ("conda", "conda_installer", "pip", "uv"):
        return f"{owner}.{func.attr}"
    return None


@pytest.mark.parametrize("path", sorted(CHECKS.glob("*.py")), ids=lambda p: p.name)
def test_a_check_builds_fixes_from_words_and_intents_only(path):
    tree = ast.parse(path.read_text(), str(path))
    bad = []
    for call in _calls(tree):
        if _name(call) == "Fix" and (
            len(call.args) > 1 or any(k.arg == "commands" for k in call.keywords)
        ):
            bad.append(f"{path.name}:{call.lineno}: Fix(...) given commands")
        if _renders(call):
            bad.append(f"{path.name}:{call.lineno}: calls a renderer ({_renders(call)})")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dldoctor.fixes"):
            names = {a.name for a in node.names}
            if node.module in FORBIDDEN_MODULES or names & FORBIDDEN_NAMES:
                bad.append(f"{path.name}:{node.lineno}: imports {node.module} {sorted(names)}")
    assert not bad, "\n".join(bad)


def _fixes_of(facts: Facts) -> list[Fix]:
    return [x for o in run_checks(facts, MATRIX) for f in o.findings for x in f.fixes]


def _machines() -> list[tuple[str, Facts]]:
    """The corpus cases, the recorded machines, and the scenario machines of the new intents."""
    out = [(c.path.stem, Facts.from_dict(corpus.facts_of(c, MATRIX))) for c in corpus.all_cases()]
    out += [(name, facts_of(name)) for name in ("h100_cpu_stack", "driver470_cpu_stack")]
    return out + list(SCENARIOS.items())


def test_every_fix_a_check_returns_carries_the_commands_fixes_renders_for_its_intents():
    seen = 0
    for name, facts in _machines():
        for remedy in _fixes_of(facts):
            if remedy.commands:
                seen += 1
                assert remedy.intents, f"{name}: {remedy.summary!r} has commands but no intents"
                assert remedy.commands == render_all(remedy.intents, facts), (name, remedy.summary)
    assert seen >= 20  # the corpus and scenarios reach the renderers, not only advice in words
