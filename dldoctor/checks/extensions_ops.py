"""DD522-DD523: an extension's CUDA against the driver, and its compiled code present."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from dldoctor.checks.extensions import _evidence, _name, _path, _torch, extensions
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes import extensions as fx
from dldoctor.fixes.driver import install_driver
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Severity


@check(
    "DD522",
    "extension-driver-too-old",
    "The NVIDIA driver is too old for the CUDA an extension library was built with",
    Area.NVIDIA,
)
def extension_driver_too_old(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension (a vllm, sgl-kernel or tensorrt-cu13 wheel) is built with a CUDA whose
    first driver is newer than the loaded one, and torch's own build does not already need it.

    Why: its kernels cannot start ("CUDA driver version is insufficient for CUDA runtime
    version") even where torch itself works.

    Fix: upgrade the driver, or install the extension's build for an older CUDA.
    """
    if q.driver_loaded(facts) is False:
        raise NotApplicable("no NVIDIA driver loaded")
    shown = q.driver_version(facts)
    driver = q.version_of(shown)
    if driver is None:
        return [Unjudged("the driver", "nvidia.driver_version")]
    _, torch_cuda = _torch(facts) if q.installed(facts, "torch") else (None, None)
    torch_floor = _floor(matrix, torch_cuda)
    verdicts: list[Verdict | Unjudged] = []
    for framework in ("torch", "tensorrt"):
        for ext in extensions(facts, framework):
            cuda = (ext.get("built_for") or {}).get("cuda")
            floor = _floor(matrix, cuda)
            if not floor or driver >= Version(floor):
                continue
            if torch_floor and Version(torch_floor) >= Version(floor):
                continue  # torch needs as much: DD501 names the driver for torch's build
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"Driver {shown} is too old for {_name(ext)} (built with CUDA {cuda}, "
                    f"needs driver {floor} or newer)",
                    evidence={**_evidence(ext), "driver": shown, "driver_needed": floor},
                    fixes=(
                        install_driver(
                            facts, floor, f"{ext.get('key')}'s CUDA {cuda} build needs it"
                        ),
                    ),
                )
            )
    return verdicts


def _floor(matrix: Matrix, cuda: Any) -> str | None:
    """The first Linux driver that runs a CUDA build: its release's, or its major's (MVC)."""
    if not isinstance(cuda, str) or not cuda:
        return None
    row = matrix.major_floor(cuda)  # minor-version compatibility: the major's first driver runs it
    return getattr(row, "linux", None) if row else None


@check(
    "DD523",
    "extension-ops-missing",
    "An extension library is installed without the compiled code it needs",
    Area.PACKAGES,
)
def extension_ops_missing(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension that needs compiled modules was installed without them (apex without
    amp_C and fused_layer_norm_cuda: its Python-only build), or bitsandbytes has no binary for
    torch's CUDA (libbitsandbytes_cuda128 for CUDA 12.8). DeepSpeed's ops are not judged: they
    are built at first use (JIT) by design, which the build checks (DD53x) look at.

    Why: imports fail later ("No module named 'amp_C'", "Configured CUDA binary not found").

    Fix: rebuild it with its extensions (apex from a checkout: --cpp_ext --cuda_ext), or the
    release that ships a binary for this CUDA.
    """
    torch, torch_cuda = _torch(facts)
    verdicts: list[Verdict | Unjudged] = []
    for ext in extensions(facts):
        spec = fx.spec_of(matrix, str(ext.get("key")))
        modules = ext.get("modules")
        if spec.get("ops") != "required":
            continue
        if modules is None:
            verdicts.append(Unjudged(_name(ext), _path(facts, ext, "modules")))
            continue
        if not modules:
            found = fx.for_torch(facts, matrix, ext) if spec.get("rebuild") != "wheel" else None
            names = ", ".join(
                dict.fromkeys(str(p).split("*")[0].rstrip("/") for p in spec.get("modules") or [])
            )
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{_name(ext)} is installed without its compiled modules ({names})",
                    evidence=_evidence(ext),
                    fixes=(found,) if found else (),
                )
            )
            continue
        template = spec.get("cuda_library")
        if template and torch and isinstance(torch_cuda, str) and torch_cuda:
            digits = "".join(torch_cuda.split(".")[:2])
            stem = str(template).format(cuda=digits)
            if not any(str(m.get("path", "")).startswith(stem + ".") for m in modules):
                verdicts.append(
                    Verdict(
                        Severity.ERROR,
                        f"{_name(ext)} has no binary for torch's CUDA {torch_cuda} "
                        f"({stem.rsplit('/', 1)[-1]})",
                        evidence={**_evidence(ext), "torch_cuda": torch_cuda, "wanted": stem},
                        fixes=(
                            fx.newer_release(
                                facts,
                                str(ext["key"]),
                                str(ext.get("version")),
                                f"one with a CUDA {torch_cuda} binary",
                            ),
                        ),
                    )
                )
    return verdicts
