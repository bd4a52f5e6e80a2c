"""Checks of the environment's packages: duplicates, clashing distributions, unmet requirements."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement

from dldoctor.checks.registry import Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install, render
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
def duplicate_distribution(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: one distribution is installed twice in places Python searches (e.g. ~/.local and the
    environment).

    Why: Python imports the first copy, while pip reports and upgrades another; upgrades seem
    to do nothing and versions disagree between tools.

    Fix: uninstall until no copy is left, then install the version you want once.
    """
    verdicts = []
    for dup in facts.packages.get("duplicates") or []:
        name = dup["name"]
        copies = dup.get("copies") or []
        versions = sorted({c.get("version") or "?" for c in copies})
        first = copies[0] if copies else {}
        differs = len(versions) > 1
        severity = Severity.ERROR if differs and _interesting(matrix, name) else Severity.WARNING
        wanted = first.get("version") or versions[-1]
        intent = Install(
            (f"{name}=={q.release_of(wanted)}",), remove_first=(name,), copies=len(copies)
        )
        commands = render(intent, facts)
        verdicts.append(
            Verdict(
                severity,
                f"{name} is installed {len(copies)} times ({', '.join(versions)}); "
                f"Python imports {first.get('version')} from {first.get('location')}",
                evidence={"copies": copies},
                fixes=(Fix("Remove every copy, then install one.", commands),),
            )
        )
    return verdicts


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
    for conflict in facts.packages.get("module_conflicts") or []:
        names = [q.canonical(n) for n in conflict["distributions"]]
        framework_clash = any(_interesting(matrix, n) for n in names)
        keep = _choose(names, gpu)
        dist = q.installed(facts, keep) or {}
        version = q.release_of(dist.get("version") or "")
        reqs = (f"{keep}=={version}",) if version else (keep,)
        commands = render(Install(reqs, remove_first=tuple(names)), facts)
        verdicts.append(
            Verdict(
                Severity.ERROR if framework_clash else Severity.WARNING,
                f"{' and '.join(names)} both install the module '{conflict['module']}' "
                "and overwrite each other's files",
                evidence=dict(conflict),
                fixes=(Fix(f"Keep only {keep} (reinstalled cleanly).", commands, automatic=True),),
            )
        )
    return verdicts


def _choose(names: list[str], gpu: bool) -> str:
    """Which of the clashing distributions to keep: the GPU flavour on a GPU machine."""
    gpu_named = [n for n in names if n.endswith("-gpu")]
    cpu_named = [n for n in names if n.endswith(("-cpu", "-headless"))]
    if gpu and gpu_named:
        return gpu_named[0]
    if not gpu and cpu_named:
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
    for item in facts.packages.get("unsatisfied") or []:
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
        req = Requirement(requirement)
    except InvalidRequirement:
        return Fix(f"{owner}'s requirement '{requirement}' is malformed: reinstall {owner}.")
    torch = q.installed(facts, "torch")
    owner = q.canonical(owner)
    if q.canonical(req.name) == "torch" and owner in ("torchvision", "torchaudio") and torch:
        release = matrix.torch_release(torch["version"])
        if release:
            paired = release.torchvision if owner == "torchvision" else release.torchaudio
            # A +cpu or +cuXXX torch needs the companion built the same way, from the same index.
            local = torch["version"].partition("+")[2]
            index = matrix.torch_index_url.format(variant=local) if local else None
            return Fix(
                f"Install the {owner} release paired with the installed torch {torch['version']}.",
                render(Install((f"{owner}=={paired}.*",), index_url=index), facts),
                automatic=True,
            )
    spec = str(req.specifier) or ""
    return Fix(
        f"Install {req.name}{spec} (what {owner} declares).",
        render(Install((f"{req.name}{spec}",)), facts),
        automatic=True,
    )
