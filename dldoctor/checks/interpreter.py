"""Whether dldoctor could look inside the judged interpreter at all."""

from __future__ import annotations

from dldoctor.checks.registry import Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.bootstrap import MIN_PYTHON
from dldoctor.facts.known import need
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity


@check(
    "DD514",
    "python-too-old-to-examine",
    "The judged Python is too old for dldoctor's gatherer: its packages were not examined",
    Area.PYTHON,
)
def python_too_old_to_examine(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the interpreter named by --python is older than the oldest Python dldoctor's
    gatherer and probes run on (3.6), so its packages and frameworks could not be read.

    Why: every package, build and runtime check is then "not judged"; without this one line the
    report would look like a machine with nothing installed.

    Fix: judge an environment with a newer Python (create one for the framework's current
    release, and run dldoctor check --python on it).
    """
    version = q.version_of(need(facts, "python.version"))
    if version is None or version.release[:2] >= MIN_PYTHON:
        return []
    minimum = ".".join(map(str, MIN_PYTHON))
    where = facts.python.get("command") or facts.python.get("executable") or "this interpreter"
    return [
        Verdict(
            Severity.ERROR,
            f"Python {version} at {where} is too old for dldoctor's gatherer (needs {minimum}+): "
            "its packages and frameworks were not examined",
            evidence={
                "python": str(version),
                "minimum": minimum,
                "errors": facts.python.get("errors"),
            },
            fixes=(
                Fix(
                    f"Create an environment with Python {minimum} or newer for your framework "
                    "and judge that one with `dldoctor check --python PATH`."
                ),
            ),
        )
    ]
