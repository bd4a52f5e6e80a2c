"""Which fast tests judge one module's mutants: the test files that import it or name its codes.

A narrower selection per module keeps a full mutation run of the checks and fixes to hours on two
cores (every scenario test calls every check, so a survivor otherwise runs hundreds of them). A
narrower selection can only miss kills, never invent one: the score it gives is a lower bound.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

CODE = re.compile(r"\bDD\d{3}\b")


def dotted(path: str) -> str:
    """``dldoctor.checks.driver`` of ``dldoctor/checks/driver.py``."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def imported(source: str, package: str) -> set[str]:
    """The modules of ``package`` (dotted) a source imports, by any spelling of the import."""
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import inside the package itself
                base = f"{package}.{base}" if base else package
            if base == package:
                found.update(f"{package}.{alias.name}" for alias in node.names)
            elif base.startswith(package + "."):
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(package + "."))
    return found


def test_files(root: Path, paths: list[str]) -> list[str]:
    """The test files (``test_*.py``) under each of ``paths``, relative to ``root``."""
    files: set[str] = set()
    for path in paths:
        full = root / path
        found = full.rglob("test_*.py") if full.is_dir() else [full]
        files.update(str(f.relative_to(root)) for f in found)
    return sorted(files)


def own_tests(root: Path, module: str, candidates: list[str]) -> list[str]:
    """The ``candidates`` that judge ``module`` (a source path) directly: they import it or name
    one of its codes; for a helper with no codes of its own, its importers in the package stand
    in (their imports and codes)."""
    package = dotted(str(Path(module).parent))
    name = dotted(module)
    source = (root / module).read_text(encoding="utf-8")
    names, codes = {name}, set(CODE.findall(source))
    if not codes:
        for other in sorted((root / module).parent.glob("*.py")):
            text = other.read_text(encoding="utf-8")
            if name in imported(text, package):
                names.add(dotted(str(other.relative_to(root))))
                codes.update(CODE.findall(text))
    chosen = []
    for test in candidates:
        text = (root / test).read_text(encoding="utf-8")
        if names & imported(text, package) or codes & set(CODE.findall(text)):
            chosen.append(test)
    return chosen
