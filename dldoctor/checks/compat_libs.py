"""Compatibility of the CUDA libraries a framework needs with the copies that would really load."""

from __future__ import annotations

import re
from typing import Any

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from dldoctor.checks.cuda_builds import CudaBuild, cuda_builds
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix, path_without
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def needed_cudnn(build: CudaBuild, matrix: Matrix) -> Version | None:
    """The cuDNN a build needs: its own record, else the matrix row of its release."""
    text = build.cudnn
    if build.framework == "tensorflow":
        row = matrix.row_for("tensorflow", "tensorflow", build.version)
        if row and (not text or "." not in text):
            text = row["cudnn"]
    return q.version_of(text)


def _brings_no_cudnn(build: CudaBuild, facts: Facts) -> bool:
    """Whether the build relies on a cuDNN installed beside it (wheel or system copy).

    PyTorch's wheels carry or pin their own and load it by path; Paddle's do unless built
    "with pip CUDA libraries". Which cuDNN those really load is for the runtime probe to say.
    """
    if build.framework == "torch":
        return False
    if build.framework == "paddle":
        paddle = (q.framework(facts, "paddle") or {}).get("build") or {}
        return str(paddle.get("with_pip_cuda_libraries")) == "ON"
    return True


def _pip_cudnn(facts: Facts) -> list[dict[str, Any]]:
    return [w for w in facts.packages.get("nvidia_wheels") or [] if w.get("component") == "cudnn"]


@check(
    "DD504",
    "cudnn-mismatch",
    "The cuDNN a framework needs is missing or shadowed by an older copy",
    Area.CUDA,
)
def cudnn_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: a framework's CUDA build needs cuDNN of some version, and either no cuDNN of that
    major is installed (pip wheel, conda environment, system, LD_LIBRARY_PATH, inside a
    package), or the copy the dynamic loader would pick for it (the library map: RPATH,
    LD_LIBRARY_PATH, the framework's RUNPATH, the ldconfig cache, in that order) is older than
    it needs, or the pip wheel is outside the range the JAX plugin accepts.

    Why: the framework skips the GPU ("Cannot dlopen some GPU libraries") or aborts with
    "Loaded runtime CuDNN library: 8.6.0 but source was compiled with: 8.9.7".

    Fix: install the cuDNN wheel the framework asks for, and take the stale directory out of
    LD_LIBRARY_PATH.
    """
    builds = [
        b
        for b in cuda_builds(facts, matrix)
        if _brings_no_cudnn(b, facts) or q.library_candidates(facts, b.framework, "cudnn")
    ]
    if not builds:
        raise NotApplicable("no CUDA build installed relies on a cuDNN beside it")
    if need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS) is False:
        # cuDNN is loaded only for work on an NVIDIA GPU; without one a CUDA build computes on
        # the CPU and never asks for it (TensorFlow's and PyTorch's CUDA wheels run on CPU-only
        # machines: https://www.tensorflow.org/install/pip).
        raise NotApplicable("no NVIDIA GPU: a CUDA build runs on the CPU without cuDNN")
    libraries = list(need(facts, "cuda.libraries.cudnn"))
    libraries = libraries + list(
        ((facts.cuda.get("library_map") or {}).get("copies") or {}).get("cudnn") or []
    )
    pip = _pip_cudnn(facts)
    need(facts, "packages.nvidia_wheels")
    verdicts: list[Verdict | Unjudged] = []
    for build in builds:
        if build.framework == "jax":
            verdicts += _jax_cudnn(build, pip, matrix, facts)
            continue
        needed = needed_cudnn(build, matrix)
        if needed is None:
            continue
        same_major = [
            e
            for e in libraries
            if (q.version_of(e.get("version")) or Version("0")).major == needed.major
        ]
        same_major += [
            w for w in pip if (q.version_of(w.get("version")) or Version("0")).major == needed.major
        ]
        wheel = f"nvidia-cudnn-cu{build.cuda.split('.')[0]}"
        unversioned = [e for e in [*libraries, *pip] if q.version_of(e.get("version")) is None]
        if not same_major and unversioned and _brings_no_cudnn(build, facts):
            # A copy of unknown version may be the one needed: no "none installed" claim.
            verdicts.append(Unjudged(build.label, "the version of a cuDNN copy"))
            continue
        if not same_major and _brings_no_cudnn(build, facts):
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{build.label} {build.version} needs cuDNN {needed}, but no cuDNN {needed.major} is installed",
                    evidence={
                        "framework": build.framework,
                        "cudnn_needed": str(needed),
                        "system": libraries,
                        "pip": pip,
                    },
                    fixes=(
                        fix(
                            f"Install cuDNN {needed.major} as a wheel.",
                            Install((f"{wheel}>={needed}",)),
                            facts=facts,
                            automatic=True,
                        ),
                    ),
                )
            )
            continue
        if q.library_candidates(facts, build.framework, "cudnn") is not None:
            verdicts += _loaded_too_old(facts, build, needed, wheel)
        else:  # a report without the library map: LD_LIBRARY_PATH is searched first
            verdicts += _ld_library_path_too_old(facts, build, needed, libraries)
    return verdicts


def _unset_dir_fix(facts: Facts, directory: str, needed: Version) -> Fix:
    summary = f"Take {directory} out of LD_LIBRARY_PATH (or put a cuDNN {needed} first)."
    intent = path_without(facts, "LD_LIBRARY_PATH", directory)
    return fix(summary, intent, facts=facts) if intent else Fix(summary)


def _loaded_too_old(facts: Facts, build: CudaBuild, needed: Version, wheel: str) -> list[Verdict]:
    """The copy the loader picks for the framework (the library map) is older than it needs."""
    loaded = q.loaded_copy(facts, build.framework, "cudnn", needed.major)
    found = q.version_of((loaded or {}).get("version"))
    if loaded is None or found is None or len(found.release) < 2:
        return []
    # A header says 9.1.0 where the matrix says 9.1.0.70: compare at the copy's precision.
    if found >= Version(".".join(str(p) for p in needed.release[: len(found.release)])):
        return []
    directory = str(loaded.get("path", "")).rsplit("/", 1)[0]
    via = loaded.get("via")
    if via == "LD_LIBRARY_PATH":
        remedy = _unset_dir_fix(facts, directory, needed)
    elif loaded.get("kind") == "conda-env":
        remedy = fix(
            f"Install cuDNN {needed} in the conda environment.",
            Install((f"cudnn>={needed}",), manager="conda"),
            facts=facts,
            automatic=False,
        )
    else:
        remedy = fix(
            f"Install cuDNN {needed} or newer where {build.label} looks for it.",
            Install((f"{wheel}>={needed}",)),
            facts=facts,
            automatic=loaded.get("kind") == "pip-wheel",
        )
    return [
        Verdict(
            Severity.ERROR,
            f"{build.label} {build.version} needs cuDNN {needed}, but the dynamic loader would give it "
            f"cuDNN {found} from {directory} (found by {via})",
            evidence={
                "framework": build.framework,
                "cudnn_needed": str(needed),
                "loads": loaded,
                "search": ((facts.cuda.get("library_map") or {}).get("frameworks") or {})
                .get(build.framework, {})
                .get("search"),
                "LD_LIBRARY_PATH": (facts.env.get("variables") or {}).get("LD_LIBRARY_PATH"),
            },
            fixes=(remedy,),
        )
    ]


def _ld_library_path_too_old(
    facts: Facts, build: CudaBuild, needed: Version, libraries: list[dict[str, Any]]
) -> list[Verdict]:
    verdicts = []
    for entry in libraries:
        found = q.version_of(entry.get("version"))
        if entry.get("source") != "LD_LIBRARY_PATH" or found is None or found.major != needed.major:
            continue
        if len(found.release) > 1 and found < needed:
            directory = str(entry.get("path", "")).rsplit("/", 1)[0]
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{build.label} {build.version} needs cuDNN {needed}, but LD_LIBRARY_PATH makes it load "
                    f"cuDNN {found} from {directory}",
                    evidence={
                        "framework": build.framework,
                        "cudnn_needed": str(needed),
                        "loads": entry,
                        "LD_LIBRARY_PATH": (facts.env.get("variables") or {}).get(
                            "LD_LIBRARY_PATH"
                        ),
                    },
                    fixes=(_unset_dir_fix(facts, directory, needed),),
                )
            )
    return verdicts


def _plugin_cudnn(matrix: Matrix, build: CudaBuild) -> str | None:
    """The cuDNN range of this plugin release, where the matrix states one for its version."""
    from packaging.specifiers import SpecifierSet

    version = q.version_of(build.version)
    for row in matrix.tables["jax"].get("plugin_cudnn", []):
        if row["cuda"] == build.cuda and version and SpecifierSet(row["jax"]).contains(version):
            return str(row["cudnn"])
    return None


def _jax_cudnn(
    build: CudaBuild, pip: list[dict[str, Any]], matrix: Matrix, facts: Facts
) -> list[Verdict]:
    plugin = next(
        (p for p in matrix.tables["jax"].get("plugin", []) if p["cuda"] == build.cuda), None
    )
    if not plugin:
        return []
    from packaging.specifiers import SpecifierSet

    accepted = SpecifierSet(_plugin_cudnn(matrix, build) or plugin["cudnn"])
    verdicts = []
    for wheel in pip:
        found = q.version_of(wheel.get("version"))
        major = wheel.get("cuda_major")  # False: an unsuffixed wheel, for any CUDA
        if (major is not False and major != int(build.cuda)) or found is None:
            continue
        if not accepted.contains(found, prereleases=True):
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{build.distribution} needs cuDNN {accepted}, but {wheel['name']} {found} is installed",
                    evidence={
                        "plugin": build.distribution,
                        "cudnn": str(found),
                        "accepted": str(accepted),
                        "matrix_row": f"jax.toml plugin cuda{build.cuda}",
                    },
                    fixes=(
                        fix(
                            "Install the cuDNN the plugin accepts.",
                            Install((f"{wheel['name']}{accepted}",)),
                            facts=facts,
                            automatic=True,
                        ),
                    ),
                )
            )
    return verdicts


def _pins(facts: Facts) -> dict[str, list[tuple[str, Requirement]]]:
    """NVIDIA wheel → [(distribution, requirement)] that apply in this environment."""
    installed = {q.canonical(w["name"]) for w in facts.packages.get("nvidia_wheels") or []}
    env = facts.python.get("marker_environment") or {}
    pins: dict[str, list[tuple[str, Requirement]]] = {}
    for owner, texts in need(facts, "packages.nvidia_pins").items():
        for text in texts:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            name = q.canonical(req.name)
            if req.marker is not None:
                extras = _EXTRA.findall(str(req.marker)) or [""]
                try:
                    applies = any(req.marker.evaluate({**env, "extra": e}) for e in extras)
                except UndefinedEnvironmentName:  # the marker asks an unknown fact: no claim
                    continue
                # An extra's pins count only when the extra was evidently installed.
                if not applies or (extras != [""] and name not in installed):
                    continue
            pins.setdefault(name, []).append((owner, req))
    return pins


@check(
    "DD505",
    "conflicting-nvidia-pins",
    "Two frameworks pin NVIDIA library wheels no single version satisfies",
    Area.CUDA,
)
def conflicting_nvidia_pins(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: two installed distributions require the same NVIDIA wheel (nvidia-cudnn-cu12,
    nvidia-nccl-cu12…) with version constraints that no single version meets.

    Why: one environment holds one copy: whichever installed last wins and the other framework
    loads a library it was not built for (import errors, "undefined symbol", wrong results).

    Fix: give each framework its own environment, or choose releases whose pins agree.
    """
    conflicts: dict[tuple[str, ...], list[tuple[str, list[tuple[str, Requirement]]]]] = {}
    wheels = {q.canonical(w["name"]): w for w in facts.packages.get("nvidia_wheels") or []}
    for wheel, reqs in sorted(_pins(facts).items()):
        owners = tuple(sorted({o for o, _ in reqs}))
        if len(owners) < 2:
            continue
        candidates = {q.version_of((wheels.get(wheel) or {}).get("version"))}
        for _, req in reqs:
            for spec in req.specifier:
                candidates.add(q.version_of(spec.version.replace(".*", "")))
        fits = [
            v
            for v in candidates
            if v is not None and all(r.specifier.contains(v, prereleases=True) for _, r in reqs)
        ]
        if not fits:
            conflicts.setdefault(owners, []).append((wheel, reqs))
    # One conflict between the same frameworks is one problem, however many wheels it spans.
    verdicts = []
    for owners, clashes in conflicts.items():
        names = [wheel for wheel, _ in clashes]
        first, reqs = clashes[0]
        said = "; ".join(f"{o} wants {first}{r.specifier}" for o, r in reqs)
        more = (
            f" (and {len(names) - 1} more NVIDIA wheel(s): {', '.join(names[1:])})"
            if len(names) > 1
            else ""
        )
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{' and '.join(owners)} pin NVIDIA wheels no single version satisfies: {said}{more}",
                evidence={
                    "owners": list(owners),
                    "wheels": names,
                    "wheel": first,
                    "requirements": {
                        wheel: {o: str(r) for o, r in reqs} for wheel, reqs in clashes
                    },
                },
                fixes=(
                    Fix(
                        f"Install {' and '.join(owners)} in separate virtual environments, or pick "
                        f"releases that pin the same {', '.join(names)}."
                    ),
                ),
            )
        )
    return verdicts
