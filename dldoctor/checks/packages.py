"""Checks of the environment's packages: duplicates, clashing distributions, unmet requirements."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from packaging.requirements import InvalidRequirement

from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need
from dldoctor.facts.model import Facts
from dldoctor.facts.requirements import parse
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity


def _interesting(matrix: Matrix, name: str) -> bool:
    return matrix.package(q.canonical(name)) is not None


@check(
    "DD301",
    "duplicate-distribution",
    "Two copies of one distribution are on sys.path",
    Area.PACKAGES,
)
def duplicate_distribution(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: one distribution is installed twice in places Python searches (e.g. ~/.local and the
    environment).

    Why: Python imports the first copy, while pip reports and upgrades another; upgrades seem
    to do nothing and versions disagree between tools.

    Fix: uninstall until no copy is left, then install the version you want once.
    """
    verdicts: list[Verdict | Unjudged] = []
    for dup in need(facts, "packages.duplicates"):
        name = dup.get("name")
        if not name:
            verdicts.append(Unjudged("a distribution found twice", "its name"))
            continue
        copies = dup.get("copies") or []
        if _conda_copy(facts, name, copies):
            continue  # conda and pip copies: DD304 names that root cause, with conda's fix
        versions = sorted({c.get("version") or "version unknown" for c in copies})
        first = copies[0] if copies else {}
        # Copies of unknown version are not known to differ: that needs two known versions.
        differs = len({c.get("version") for c in copies if c.get("version")}) > 1
        severity = Severity.ERROR if differs and _interesting(matrix, name) else Severity.WARNING
        wanted = first.get("version") or _newest(c.get("version") for c in copies)
        pin = f"{name}=={q.release_of(wanted)}" if wanted else name  # none known: unpinned
        intent = Install((pin,), remove_first=(name,), copies=len(copies))
        verdicts.append(
            Verdict(
                severity,
                f"{name} is installed {len(copies)} times ({', '.join(versions)}); "
                f"Python imports {first.get('version')} from {first.get('location')}",
                evidence={"copies": copies},
                fixes=(
                    fix(
                        "Remove every copy, then install one.", intent, facts=facts, automatic=False
                    ),
                ),
            )
        )
    return verdicts


def _conda_copy(facts: Facts, name: str, copies: list[dict[str, Any]]) -> bool:
    """Whether one of the copies is conda's and the environment's conda records are known."""
    if not q.conda_packages(facts):
        return False
    places = {c.get("location") for c in copies}
    return any(
        d.get("installer") == "conda" and d.get("location") in places
        for d in q.distributions(facts)
        if q.canonical(d.get("name") or "") == q.canonical(name or "")
    )


@check(
    "DD302",
    "clashing-distributions",
    "Several distributions install the same top-level module",
    Area.PACKAGES,
)
def clashing_distributions(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: two distributions provide the same importable module (tensorflow + tensorflow-cpu,
    opencv-python + opencv-python-headless).

    Why: their files overwrite each other; whichever was installed last wins, partially, and
    uninstalling one breaks the other.

    Fix: uninstall all of them, then install the one you want.
    """
    gpu = q.nvidia_gpu_present(facts)
    verdicts = []
    for conflict in need(facts, "packages.module_conflicts"):
        names = [q.canonical(n) for n in conflict.get("distributions") or [] if n]
        framework_clash = any(_interesting(matrix, n) for n in names)
        keep = _choose(names, gpu)
        dist = q.installed(facts, keep) or {}
        version = q.release_of(dist.get("version") or "")
        reqs = (f"{keep}=={version}",) if version else (keep,)
        intent = Install(reqs, remove_first=tuple(names))
        verdicts.append(
            Verdict(
                Severity.ERROR if framework_clash else Severity.WARNING,
                f"{' and '.join(names)} both install the module '{conflict['module']}' "
                "and overwrite each other's files",
                evidence=dict(conflict),
                fixes=(fix(f"Keep only {keep} (reinstalled cleanly).", intent, facts=facts),),
            )
        )
    return verdicts


def _newest(versions: Iterable[str | None]) -> str | None:
    """The highest of the versions that parse, as written; None when none does."""
    parsed = [(q.version_of(v), v) for v in versions if v and q.version_of(v) is not None]
    return max(parsed)[1] if parsed else None


def _choose(names: list[str], gpu: bool | None) -> str:
    """Which of the clashing distributions to keep: the GPU flavour on a GPU machine.

    With the GPU unknown (None), the plain one: neither flavour is known to fit.
    """
    gpu_named = [n for n in names if n.endswith("-gpu")]
    cpu_named = [n for n in names if n.endswith(("-cpu", "-headless"))]
    if gpu and gpu_named:
        return gpu_named[0]
    if gpu is False and cpu_named:
        return cpu_named[0]
    plain = [n for n in names if n not in gpu_named]
    return (plain or names)[0]


@check(
    "DD303",
    "unsatisfied-requirements",
    "An installed distribution's requirements are not met (pip check)",
    Area.PACKAGES,
)
def unsatisfied_requirements(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a distribution requires another that is missing or at a version outside its range,
    as `pip check` reports.

    Why: imports fail or misbehave at run time (torchvision built for another torch: "operator
    torchvision::nms does not exist").

    Fix: install the versions that fit together; for torch's companions, the release paired
    with the installed torch.
    """
    verdicts = []
    for item in need(facts, "packages.unsatisfied"):
        owner = item["distribution"]
        requirement = item["requirement"]
        installed = item.get("installed")
        state = f"{installed} is installed" if installed else "it is not installed"
        severity = Severity.ERROR if _interesting(matrix, owner) else Severity.WARNING
        verdicts.append(
            Verdict(
                severity,
                f"{owner} {item.get('version')} requires {requirement}, but {state}",
                evidence=dict(item),
                fixes=(_requirement_fix(facts, matrix, owner, requirement),),
            )
        )
    return verdicts


def _requirement_fix(facts: Facts, matrix: Matrix, owner: str, requirement: str) -> Fix:
    try:
        req = parse(requirement)  # cached: pip check parsed the same text while gathering
    except InvalidRequirement:
        return Fix(f"{owner}'s requirement '{requirement}' is malformed: reinstall {owner}.")
    owner = q.canonical(owner)
    torch = q.installed(facts, "torch") if q.canonical(req.name) == "torch" else None
    if torch and owner in ("torchvision", "torchaudio"):
        release = matrix.torch_release(torch["version"])
        if release:
            paired = release.torchvision if owner == "torchvision" else release.torchaudio
            # A +cpu or +cuXXX torch needs the companion built the same way, from the same index.
            local = torch["version"].partition("+")[2]
            index = matrix.torch_index_url.format(variant=local) if local else None
            return fix(
                f"Install the {owner} release paired with the installed torch {torch['version']}.",
                Install((f"{owner}=={paired}.*",), index_url=index),
                facts=facts,
                automatic=True,
            )
    spec = str(req.specifier) or ""
    return fix(
        f"Install {req.name}{spec} (what {owner} declares).",
        Install((f"{req.name}{spec}",)),
        facts=facts,
        automatic=True,
    )
