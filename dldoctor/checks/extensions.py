"""Checks of the extension libraries installed on top of torch, from their static build facts."""

from __future__ import annotations

from typing import Any

from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import known, need
from dldoctor.facts.model import Facts
from dldoctor.fixes import extensions as fx
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Area, Severity

JSON = dict[str, Any]


def extensions(facts: Facts, framework: str = "torch") -> list[JSON]:
    """The installed extensions of a framework; raises Unknown when they are unknown."""
    section = need(facts, "packages.extensions")
    return [e for e in section.get("installed") or [] if e.get("framework") == framework]


def _path(facts: Facts, ext: JSON, leaf: str) -> str:
    """The dotted path of one of an extension's facts (what an Unjudged names)."""
    index = next(i for i, e in enumerate(facts.packages["extensions"]["installed"]) if e is ext)
    return f"packages.extensions.installed.{index}.{leaf}"


def _torch(facts: Facts) -> tuple[JSON | None, Any]:
    """(torch's distribution, its CUDA: '13.0', False for a CPU build, None unknown)."""
    torch = q.installed(facts, "torch")
    if torch is None:
        return None, None
    return torch, known(facts, "packages.frameworks.torch.build.cuda")


def _major(cuda: Any) -> str | None:
    return str(cuda).split(".")[0] if isinstance(cuda, str) and cuda else None


def _missing_symbols(ext: JSON) -> tuple[int, str] | None:
    """(how many, one) of the torch symbols its modules import that this torch lacks."""
    total, example = 0, ""
    for module in ext.get("modules") or []:
        missing = module.get("torch_symbols_missing") or {}
        count = missing.get("count") if isinstance(missing, dict) else None
        if isinstance(count, int) and count > 0:
            total += count
            example = example or str((missing.get("examples") or ["?"])[0])
    return (total, example) if total else None


def _other_cuda(ext: JSON, torch_cuda: Any) -> bool:
    """A CUDA build beside a torch of another CUDA major, or of none (DD521's finding)."""
    cuda = (ext.get("built_for") or {}).get("cuda")
    return bool(cuda) and (
        torch_cuda is False or (bool(torch_cuda) and _major(cuda) != _major(torch_cuda))
    )


def _name(ext: JSON) -> str:
    return f"{ext.get('key')} {ext.get('version')}"


@check(
    "DD520",
    "extension-for-another-torch",
    "An extension library was built for another torch release or C++ ABI than the installed one",
    Area.PACKAGES,
)
def extension_for_another_torch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension (flash-attn, torch-scatter, mmcv...) says, in its local version label
    (+cu12torch2.6cxx11abiFALSE, +pt21cu121) or its compiled modules' symbols, that it was built
    for another torch release or C++ ABI than the installed torch, or its modules import torch
    symbols that no library of the installed torch exports (read from both sides' ELF symbol
    tables); torchvision/torchaudio that do not pin torch are judged by the release pairing
    table. An exact Requires-Dist pin (xformers, vllm: torch==X) is pip check's (DD303).

    Why: torch's C++ symbols change between releases and with the ABI: the import fails with
    "undefined symbol: _ZN3c10...".

    Fix: the extension's build for the installed torch (its wheel index, the paired companion),
    or a rebuild against it.
    """
    torch, torch_cuda = _torch(facts)
    if torch is None:
        raise NotApplicable("torch is not installed")
    release = minor_of(str(torch.get("version") or ""))
    torch_abi = known(facts, "packages.extensions.torch_cxx11_abi")
    verdicts: list[Verdict | Unjudged] = []
    for ext in extensions(facts):
        built = ext.get("built_for") or {}
        wanted = built.get("torch")
        pinned = ext.get("torch_requirement") and any(
            "Requires-Dist" in str(e) for e in ext.get("evidence") or []
        )
        reasons = []
        if wanted and not pinned and minor_of(str(wanted)) not in ("", release):
            reasons.append(f"built for torch {wanted}")
        if ext.get("key") in fx.COMPANIONS and not ext.get("torch_requirement"):
            paired = matrix.torch_release(str(torch["version"]))
            pair = getattr(paired, str(ext["key"]), None) if paired else None
            if pair and minor_of(str(ext.get("version") or "")) != pair:
                reasons.append(f"torch {release} pairs with {ext['key']} {pair}")
        missing = _missing_symbols(ext)
        if missing and not _other_cuda(ext, torch_cuda):  # another CUDA is DD521's root cause
            count, example = missing
            reasons.append(
                f"{count} torch symbol(s) it imports are not in this torch, e.g. {example}"
            )
        abi = built.get("cxx11_abi")
        if abi is not None and torch_abi is None and not reasons:
            verdicts.append(Unjudged(_name(ext), "packages.extensions.torch_cxx11_abi"))
        if abi is not None and torch_abi is not None and abi != torch_abi:
            reasons.append(
                f"C++ ABI cxx11abi{'TRUE' if abi else 'FALSE'}, torch's is "
                f"{'TRUE' if torch_abi else 'FALSE'}"
            )
        if not reasons:
            continue
        found = fx.for_torch(facts, matrix, ext)
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{_name(ext)} does not fit the installed torch {torch['version']} "
                f"({'; '.join(reasons)}): its compiled code will not load",
                evidence=_evidence(ext, torch_abi=torch_abi),
                fixes=(found,) if found else (),
            )
        )
    return verdicts


@check(
    "DD521",
    "extension-cuda-mismatch",
    "An extension library is built for another CUDA major than torch (or for CUDA on a CPU torch)",
    Area.PACKAGES,
)
def extension_cuda_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension's label (+cu118) or the CUDA runtime its compiled modules link
    (libcudart.so.12) is of another CUDA major than torch.version.cuda, or it is a CUDA build
    beside a CPU-only torch, or a CPU build of torchvision/torchaudio beside a CUDA torch.

    Why: torch loads one CUDA runtime; an extension linked against another major fails to load
    (libcudart.so.11.0: cannot open shared object file), and torchvision refuses it ("compiled
    with different CUDA major versions"; on a CPU torch: "operator torchvision::nms does not
    exist"). Within one major, minor versions run together (minor-version compatibility).

    Fix: the extension's build for torch's CUDA variant, from the same index as torch.
    """
    torch, torch_cuda = _torch(facts)
    if torch is None:
        raise NotApplicable("torch is not installed")
    verdicts: list[Verdict | Unjudged] = []
    for ext in extensions(facts):
        cuda = (ext.get("built_for") or {}).get("cuda")
        if cuda is None:
            if fx.spec_of(matrix, str(ext.get("key"))).get("ops") == "required":
                verdicts.append(Unjudged(_name(ext), _path(facts, ext, "built_for.cuda")))
            continue
        if torch_cuda is None:
            verdicts.append(Unjudged(_name(ext), "packages.frameworks.torch.build.cuda"))
            continue
        rocm = (ext.get("built_for") or {}).get("rocm")
        torch_rocm = known(facts, "packages.frameworks.torch.build.hip")
        if cuda and torch_cuda is False:
            kind = f"a ROCm ({torch_rocm}) build" if torch_rocm else "CPU-only"
            title = (
                f"{_name(ext)} is a CUDA {cuda} build, but torch {torch['version']} is "
                f"{kind}: its compiled ops will not load"
            )
        elif rocm and torch_cuda:
            title = (
                f"{_name(ext)} is a ROCm {rocm} build beside torch {torch['version']} (CUDA "
                f"{torch_cuda}): its compiled ops will not load"
            )
        elif cuda and _major(cuda) != _major(torch_cuda):
            title = (
                f"{_name(ext)} is built for CUDA {cuda}, torch {torch['version']} for "
                f"CUDA {torch_cuda}: another CUDA major, its compiled code will not load"
            )
        elif cuda is False and torch_cuda and ext.get("key") in fx.COMPANIONS:
            title = (
                f"{_name(ext)} is a CPU-only build beside torch {torch['version']} (CUDA "
                f"{torch_cuda}): its ops will not run on the GPU"
            )
        else:
            continue
        found = fx.for_torch(facts, matrix, ext)
        severity = Severity.WARNING if cuda is False and not rocm else Severity.ERROR
        verdicts.append(
            Verdict(
                severity,
                title,
                evidence=_evidence(ext, torch_cuda=torch_cuda),
                fixes=(found,) if found else (),
            )
        )
    return verdicts


def _evidence(ext: JSON, **extra: Any) -> JSON:
    return {
        "framework": ext.get("framework"),
        "extension": ext.get("key"),
        "version": ext.get("version"),
        "built_for": ext.get("built_for"),
        "from": ext.get("evidence"),
        **extra,
    }
