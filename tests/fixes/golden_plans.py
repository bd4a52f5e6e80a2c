"""Golden fix plans: each alternative, the resolver, each installer; and the one way to regenerate.

The tests only compare. After an intended change, regenerate explicitly and read the diff:

    PYTHONPATH=. python -m tests.fixes.golden_plans    # writes tests/data/golden_plans/*
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dldoctor.checks.registry import run_checks
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.facts.model import Facts
from dldoctor.fixes.alternatives import alternatives, install_alternatives
from dldoctor.matrix import Matrix, load
from dldoctor.report.plan_view import alternative_lines, steps_lines
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.fixes import intent_cases

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden_plans"
PREFIXES = {
    "pip": "/env",
    "uv": "/env",
    "poetry": "/home/u/.cache/pypoetry/virtualenvs/proj-x1-py3.11",
    "pdm": "/home/u/proj/.venv",
    "pixi": "/home/u/proj/.pixi/envs/default",
    "conda": "/opt/conda/envs/train",
}


def facts_of(name: str) -> Facts:
    # The recorded facts predate schema 1.2: read them as --from reads a 1.0 report (null there
    # meant "none", not "unknown").
    data = json.loads((DATA / "facts" / f"{name}.json").read_text())
    return Facts.from_dict(upgrade_facts(data, "1.0"))


def findings(facts: Facts, matrix: Matrix) -> list:
    found = [f for o in run_checks(facts, matrix) for f in o.findings]
    return sorted(found, key=lambda f: -f.severity.rank)


def env(kind: str) -> Facts:
    """torch's CPU build and tensorflow-cpu on an H100, in an environment made by ``kind``."""
    prefix = PREFIXES[kind]
    manager = {"pip": "venv", "pixi": "conda"}.get(kind, kind)
    installer = {"uv": "uv", "pdm": "pdm", "conda": "conda"}.get(kind, "pip")
    packages = [
        dist("torch", "2.13.0+cpu", installer=installer),
        dist("tensorflow-cpu", "2.21.0", installer=installer),
    ]
    if kind != "uv":  # a uv venv has no pip
        packages.append(dist("pip", "25.0"))
    python = f"{prefix}/bin/python"
    section = {"command": python, "executable": python, "prefix": prefix}
    section["environment"] = {"manager": manager, "name": None, "evidence": "test"}
    return make_facts(gpu_machine(), {"python": section}, with_packages(*packages))


def rendered(plans: list) -> str:
    return "\n\n".join("\n".join(alternative_lines(p)) for p in plans) + "\n"


def renderings(matrix: Matrix) -> dict[Path, str]:
    """Every golden plan file and what it must hold."""
    old = facts_of("driver470_cpu_stack")
    h100 = facts_of("h100_cpu_stack")
    files = {
        GOLDEN / "driver470_fix.txt": rendered(alternatives(findings(old, matrix), old, matrix)),
        GOLDEN / "h100_install.txt": rendered(
            install_alternatives(["torch", "tensorflow", "jax"], h100, matrix)
        ),
    }
    for kind in sorted(PREFIXES):
        (plan,) = install_alternatives(["torch", "tensorflow"], env(kind), matrix)
        files[GOLDEN / f"installer_{kind}.txt"] = "\n".join(steps_lines(plan.steps)) + "\n"
    files[GOLDEN / "intents.txt"] = intent_cases.rendering()
    return files


def compare(actual: str, golden: Path) -> None:
    """Exact comparison; never writes (regenerating is this module's ``main``)."""
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, run "
        "`PYTHONPATH=. python -m tests.fixes.golden_plans` and review the diff"
    )


def main() -> int:
    for path, text in renderings(load()).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"regenerated {path.relative_to(DATA.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
