"""Checks of conda environments: conda and pip copies of one package, conda's CUDA libraries
against what the installed frameworks need."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from dldoctor.checks.compat_libs import needed_cudnn
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need as need_fact
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Intent, Severity


def _need_conda(facts: Facts) -> None:
    """Raises NotApplicable outside conda, Unknown (not judged) when the records are unknown."""
    if need_fact(facts, "packages.conda") is False:
        raise NotApplicable("not a conda environment")
    if not q.conda_packages(facts):
        raise NotApplicable("no conda package recorded")


def _dist_name(where: str) -> str:
    """``.../torch-1.13.0.dist-info`` or ``.../torch-1.13.1-py3.10.egg-info`` → ``torch``
    (the name part of these directories never holds a hyphen)."""
    return q.canonical(where.rstrip("/").rsplit("/", 1)[-1].split("-")[0])


@check(
    "DD304",
    "conda-and-pip-copies",
    "A package is installed by both conda and pip",
    Area.PACKAGES,
)
def conda_and_pip_copies(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: conda's records (conda-meta) say a package is installed, and pip installed the
    same Python package too: both copies are present, or pip's replaced conda's metadata.

    Why: Python imports one copy while conda believes in the other; `conda update` or
    `conda remove` then deletes or overwrites files pip's copy needs ("undefined symbol",
    a torch that reports one version and behaves like another).

    Fix: keep one installer per package: remove conda's record (conda remove --force), then
    reinstall the copy you keep with pip, or the other way round.
    """
    _need_conda(facts)
    packages = q.conda_packages(facts)
    verdicts = []
    for package in packages:
        for where in package.get("python_dists") or []:
            name = _dist_name(where)
            copies = [d for d in q.distributions(facts) if q.canonical(d.get("name") or "") == name]
            foreign = [d for d in copies if d.get("installer") != "conda"]
            if not foreign:
                continue
            imports = copies[0]
            conda_kept = any(d.get("installer") == "conda" for d in copies)
            label = f"{package['name']} {package.get('version')} ({package.get('build')})"
            state = "both are installed" if conda_kept else "pip replaced conda's metadata"
            severity = Severity.ERROR if matrix.package(name) else Severity.WARNING
            release = q.release_of(str(imports.get("version") or ""))
            verdicts.append(
                Verdict(
                    severity,
                    f"{name} is installed by conda as {label} and by pip as {foreign[0].get('version')} "
                    f"({state}); Python imports {imports.get('version')} from {imports.get('location')}",
                    evidence={
                        "conda": {
                            k: package.get(k) for k in ("name", "version", "build", "channel")
                        },
                        "copies": [
                            {k: d.get(k) for k in ("name", "version", "location", "installer")}
                            for d in copies
                        ],
                        "imports": imports.get("version"),
                    },
                    fixes=(_keep_pip(facts, str(package["name"]), name, release),),
                )
            )
            break
    return verdicts


def _keep_pip(facts: Facts, conda_name: str, name: str, release: str) -> Fix:
    """conda forgets its copy (--force: what depends on it stays), then pip rewrites the files
    they shared (fixes/ renders nothing for a name from the records that is not a plain one)."""
    return fix(
        f"Keep the copy Python imports ({release}) and drop conda's record of it.",
        Intent(action="remove", remove_first=(conda_name,), manager="conda"),
        Install((f"{name}=={release}",), reinstall=True),
        facts=facts,
        automatic=False,
    )


def match_spec(text: str) -> SpecifierSet | None:
    """A conda match spec's version part as PEP 440 (``>=11.2,<12``, ``11.7.*``, ``11.8``);
    None when it cannot be expressed (an or of ranges, a build string)."""
    version = text.strip().split(" ")[0]
    if not version or version == "*" or "|" in version:
        return None
    parts = []
    for piece in version.split(","):
        piece = piece.strip()
        if piece and piece[0].isdigit():
            piece = f"=={piece}" if piece.endswith(".*") else f"=={piece}.*"
        parts.append(piece)
    try:
        return SpecifierSet(",".join(parts))
    except InvalidSpecifier:
        return None


def _provider(facts: Facts, matrix: Matrix, provides: str) -> dict[str, Any] | None:
    names = [
        r["package"] for r in matrix.tables["conda"]["cuda_package"] if r["provides"] == provides
    ]
    return next((p for n in names if (p := q.conda_package(facts, n))), None)


@check(
    "DD513",
    "conda-cuda-mismatch",
    "Conda's cudatoolkit or cuDNN does not match what a framework needs",
    Area.CUDA,
)
def conda_cuda_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a conda environment holds a cudatoolkit (or cuda-cudart) or cudnn package whose
    version is outside what an installed framework's conda record depends on, or of another
    major than a framework's CUDA build needs; or it holds one that no framework loads.

    Why: the framework loads conda's copy and fails ("libcudart.so.12: cannot open shared
    object file", "Loaded runtime CuDNN library: 8.1.0 but source was compiled with: 8.9.4"),
    or the conda copy is dead weight that hides which CUDA really runs.

    Fix: install the cudatoolkit/cudnn the framework was built for (conda install
    cudatoolkit=X.Y cudnn=Z), or remove the unused conda copy.
    """
    _need_conda(facts)
    unmet: dict[str, list[tuple[dict[str, Any], str, SpecifierSet]]] = {}
    for package in q.conda_packages(facts):
        for dep, spec_text in ((package.get("cuda") or {}).get("requires") or {}).items():
            spec = match_spec(spec_text)
            found = q.version_of((q.conda_package(facts, dep) or {}).get("version"))
            if (
                spec is not None
                and found is not None
                and not spec.contains(found, prereleases=True)
            ):
                unmet.setdefault(dep, []).append((package, spec_text, spec))
    verdicts = []
    for (
        dep,
        wanting,
    ) in unmet.items():  # one finding per CUDA package: the root cause is its version
        record = q.conda_package(facts, dep) or {}
        who = " and ".join(
            f"{p['name']} {p.get('version')} ({p.get('build')})" for p, _, _ in wanting
        )
        specs = sorted({text for _, text, _ in wanting})
        combined = SpecifierSet(",".join(str(spec) for _, _, spec in wanting))
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{who} require{'s' if len(wanting) == 1 else ''} {dep} {' and '.join(specs)}, "
                f"but {dep} {record.get('version')} is installed",
                evidence={
                    "installed": {dep: record.get("version")},
                    "required_by": {p["name"]: text for p, text, _ in wanting},
                },
                fixes=(
                    fix(
                        f"Install the {dep} they were built for.",
                        Install((f"{dep}{combined}",), manager="conda"),
                        facts=facts,
                        automatic=False,
                    ),
                ),
            )
        )
    verdicts += _builds_against_conda(facts, matrix)
    return verdicts


def _builds_against_conda(facts: Facts, matrix: Matrix) -> list[Verdict]:
    toolkit = _provider(facts, matrix, "cuda")
    cudnn = _provider(facts, matrix, "cudnn")
    verdicts = []
    for build in cuda_builds(facts, matrix):
        if build.framework == "jax":
            continue  # the plugin carries its pins; DD504 judges its cuDNN
        wanted: list[tuple[str, dict[str, Any] | None, Version | None]] = [
            ("cudart", toolkit, q.version_of(build.cuda)),
            ("cudnn", cudnn, needed_cudnn(build, matrix)),
        ]
        for library, package, need in wanted:
            have = q.version_of((package or {}).get("version"))
            if package is None or have is None or need is None or have.major == need.major:
                continue
            if q.library_candidates(facts, build.framework, library) is None:
                continue  # no library map (an old report): which copy loads is unknown
            loaded = q.loaded_copy(facts, build.framework, library, need.major)
            what = f"{package['name']} {have}"
            if loaded is not None:
                severity = Severity.INFO
                title = (
                    f"{what} in this conda environment is unused by {build.label}: it loads "
                    f"{library} {loaded.get('version')} from {loaded.get('path')}"
                )
                fixes: tuple[Fix, ...] = (
                    Fix(
                        f"Remove the unused {package['name']} if nothing else needs it "
                        f"(conda remove {package['name']}; conda also removes what depends on it).",
                    ),
                )
            else:
                severity = Severity.ERROR
                title = (
                    f"{build.label} {build.version} needs {library} {need.major} (CUDA {build.cuda}), "
                    f"but this conda environment's is {what}"
                )
                low = need.major if library == "cudnn" else need
                high = (
                    f"{need.major + 1}" if library == "cudnn" else f"{need.major}.{need.minor + 1}"
                )
                spec = f">={low},<{high}"
                fixes = (
                    fix(
                        f"Install the {package['name']} it needs.",
                        Install((f"{package['name']}{spec}",), manager="conda"),
                        facts=facts,
                        automatic=False,
                    ),
                )
            verdicts.append(
                Verdict(
                    severity,
                    title,
                    evidence={
                        "framework": build.framework,
                        "needs": str(need),
                        "conda": {
                            k: package.get(k) for k in ("name", "version", "build", "channel")
                        },
                        "loads": loaded,
                    },
                    fixes=fixes,
                )
            )
    return verdicts
