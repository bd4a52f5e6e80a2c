"""Checks of the frameworks beyond the big four that judge from their own files (OneFlow)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Severity


@check(
    "DD524",
    "oneflow-placeholder",
    "The installed oneflow is PyPI's placeholder wheel, without OneFlow's compiled core",
    Area.FRAMEWORKS,
)
def oneflow_placeholder(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the `oneflow` distribution is installed but its package has no compiled core
    (`oneflow/_oneflow_internal*.so`): the pure-Python wheels PyPI serves under that name.

    Why: `import oneflow` fails with "No module named 'oneflow._oneflow_internal'"; the real
    builds (CPU and CUDA) are published on OneFlow's own wheel page.

    Fix: uninstall it and install the stable release for this machine from OneFlow's wheel page
    (`pip install --find-links <page> oneflow==0.9.0+cu117`, or `+cpu` without an NVIDIA GPU).
    """
    if q.framework(facts, "oneflow") is None:
        raise NotApplicable("oneflow is not installed")
    if need(facts, "packages.frameworks.oneflow.build.compiled_core") is not False:
        return []  # the compiled core is there: the real build
    dist = q.installed(facts, "oneflow") or {}
    table = matrix.tables["oneflow"]
    variant = _platform(facts, table)
    requirement = f"oneflow=={table['stable']}+{variant['variant']}"
    intent = Install((requirement,), find_links=table["find_links"], remove_first=("oneflow",))
    return [
        Verdict(
            Severity.ERROR,
            f"oneflow {dist.get('version') or '(version unknown)'} is a placeholder without "
            "OneFlow's compiled core (oneflow/_oneflow_internal): it cannot be imported",
            evidence={
                "distribution": dist.get("name"),
                "version": dist.get("version"),
                "compiled_core": False,
                "source": table["placeholder_source"],
                "platform_source": variant["source"],
            },
            fixes=(
                fix(
                    f"Install OneFlow {table['stable']} ({variant['variant']}) from OneFlow's own "
                    "wheel page instead.",
                    intent,
                    facts=facts,
                ),
            ),
        )
    ]


def _platform(facts: Facts, table: dict) -> dict:
    """The best platform this machine runs: a CUDA build whose driver floor the driver meets,
    else the CPU build (also when the driver or the GPUs are unknown: it runs everywhere)."""
    rows = table["platform"]
    cpu = next(r for r in rows if r["variant"] == "cpu")
    if not q.nvidia_gpu_present(facts):
        return cpu
    driver = _version(q.driver_version(facts))
    for row in rows:
        floor = _version(row.get("driver_min"))
        if floor is not None and driver is not None and driver >= floor:
            return row
    return cpu


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None
