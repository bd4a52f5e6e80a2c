"""Darknet judged like any framework: the libraries its binaries need, the driver its CUDA needs."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import floor as driver_floor
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

# The CUDA libraries a Darknet build links (GPU=1: cudart, cublas, curand; CUDNN=1: cudnn).
CUDA_LIBRARY = re.compile(r"^lib(cudart|cublas|cublasLt|curand|cudnn)\.so\.(\d+)")
SONAME_VERSION = re.compile(r"\.so\.(\d+(?:\.\d+)?)$")


@check(
    "DD525",
    "darknet-libraries",
    "A Darknet binary needs libraries, or a driver, this machine cannot provide",
    Area.FRAMEWORKS,
)
def darknet_libraries(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: each `darknet` executable and `libdarknet.so` found (PATH, DARKNET_HOME, common
    build directories): the libraries its ELF dependencies name that the dynamic loader cannot
    find, and for a CUDA build (GPU=1) the driver its CUDA runtime needs.

    Why: it does not start ("error while loading shared libraries: libcudart.so.11.0"), or its
    first CUDA call fails with "CUDA driver version is insufficient for CUDA runtime version".

    Fix: rebuild Darknet against the CUDA, cuDNN and OpenCV installed here (`make clean`, then
    `make GPU=1 CUDNN=1 OPENCV=1` in its checkout), or install the libraries it was built with;
    update the driver to the one its CUDA needs.
    """
    section = need(facts, "packages.darknet")
    objects = [o for o in section.get("objects") or [] if isinstance(o, dict)]
    if not objects:
        raise NotApplicable("no Darknet executable or libdarknet.so was found")
    toolkits = [str(t["version"]) for t in facts.cuda.get("toolkits") or [] if t.get("version")]
    results: list[Verdict | Unjudged] = []
    for obj in objects:
        if obj.get("needed") is None or obj.get("missing") is None:
            results.append(Unjudged(f"Darknet at {obj.get('path')}", "packages.darknet.objects"))
            continue
        cuda = _cuda_of((obj.get("built_with") or {}).get("cuda_runtime"))
        if obj["missing"]:
            results.append(_missing(obj, cuda, toolkits))
        elif cuda is not None:
            results.extend(_driver(facts, matrix, obj, cuda))
    return results


def _cuda_of(soname: Any) -> str | None:
    """The CUDA release a libcudart SONAME is of: "11.0" (libcudart.so.11.0), "12"."""
    match = SONAME_VERSION.search(soname) if isinstance(soname, str) else None
    return match.group(1) if match else None


def _shown(cuda: str) -> str:
    """libcudart.so.11.0 serves every 11.x: CUDA 11, not 11.0; before 11 the minor is its own."""
    major = cuda.split(".")[0]
    return major if int(major) >= 11 else cuda


def _missing(obj: dict[str, Any], cuda: str | None, toolkits: list[str]) -> Verdict:
    missing = [str(m) for m in obj["missing"]]
    cuda_missing = [m for m in missing if CUDA_LIBRARY.match(m)]
    title = (
        f"Darknet ({obj['path']}) does not start: it needs {', '.join(missing)}, which the "
        "loader cannot find"
    )
    fixes = []
    if cuda_missing and cuda is not None:
        other = [t for t in toolkits if t.split(".")[0] != cuda.split(".")[0]]
        if other:
            title += (
                f" (built for CUDA {_shown(cuda)}; the CUDA toolkit here is {', '.join(other)})"
            )
        fixes.append(
            Fix(
                "Rebuild Darknet against the CUDA and cuDNN installed here: in its checkout "
                "`make clean`, then `make GPU=1 CUDNN=1` (with CUDA's lib64 in "
                f"LD_LIBRARY_PATH); or install the CUDA {_shown(cuda)} runtime (and the cuDNN) it was "
                "built with."
            )
        )
    others = [m for m in missing if m not in cuda_missing]
    if others:
        fixes.append(
            Fix(
                f"Install the libraries it was built with ({', '.join(others)}: OpenCV's come "
                "with the distribution's OpenCV packages), or rebuild Darknet without them "
                "(OPENCV=0)."
            )
        )
    return Verdict(
        Severity.ERROR,
        title,
        evidence={
            "path": obj["path"],
            "found_via": obj.get("found_via"),
            "missing": missing,
            "built_with": obj.get("built_with"),
            "cuda_toolkits": toolkits,
        },
        fixes=tuple(fixes),
    )


def _driver(facts: Facts, matrix: Matrix, obj: dict[str, Any], cuda: str) -> list[Verdict]:
    """The driver floor of the CUDA it needs (minor-version compatibility from 11 on, each
    release's own floor before); nothing said when the driver is absent (the machine-wide
    finding) or unknown."""
    driver = q.version_of(q.driver_version(facts))
    if driver is None:
        return []
    floor = matrix.major_floor(cuda) if int(cuda.split(".")[0]) >= 11 else None
    floor = floor or matrix.toolkit_floor(cuda)
    shown = driver_floor(floor, facts)  # the Windows column on Windows and in WSL
    minimum = q.version_of(shown)
    if floor is None or minimum is None or driver >= minimum:
        return []
    return [
        Verdict(
            Severity.ERROR,
            f"Darknet ({obj['path']}) was built for CUDA {_shown(cuda)}, which needs NVIDIA driver "
            f"{shown} or newer; the driver is {q.driver_version(facts)}",
            evidence={
                "path": obj["path"],
                "cuda_runtime": (obj.get("built_with") or {}).get("cuda_runtime"),
                "driver": q.driver_version(facts),
                "driver_min": shown,
                "source": floor.source,
            },
            fixes=(
                Fix(
                    f"Update the NVIDIA driver to {shown} or newer, or rebuild Darknet "
                    "against a CUDA this driver runs."
                ),
            ),
        )
    ]
