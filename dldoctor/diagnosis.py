"""Root cause first: fold the findings one problem produced into one, and name the primary one.

Checks see one problem from several sides: predicted from versions (DD501), then observed in a
probe (DD602), then in six failing smoke tests (DD606). The judged report keeps the finding that
names the cause; the others become its evidence (``explains``). The primary diagnosis is the
worst finding that explains the most of what was seen; between equals, one made from what a
framework said comes before one predicted from versions (the library it says it could not load
before the cuDNN its version table expects).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from dldoctor.facts.queries import canonical
from dldoctor.model import Finding, Severity

JSON = dict[str, Any]

# Causes that keep a framework off its GPU: they explain its missing devices (DD605) and its
# failing computations on the accelerator.
GPU_CAUSES = (
    "insufficient-driver",
    "forward-compat",
    "cuda-unknown-error",
    "fabric-manager",
    "driver-mismatch",
    "device-busy",
    "cuda-init",
    "no-kernel-image",
    "ptx-jit",
    "missing-library",
    "shadowed-library",
    "cuda-library-too-old",
    "cudnn-version-mismatch",
    "cudnn-init-failed",
    "jax-version-mismatch",
    "mps-macos",
    "nccl-shared-memory",
    "nccl-system-error",
)
GPU_STATIC = ("DD201", "DD501", "DD503", "DD504", "DD506", "DD512")
# A static check and the observed causes it predicts for the same framework (same root cause).
PREDICTS = {
    "DD202": ("cpu-instructions",),
    "DD501": ("insufficient-driver", "ptx-jit", "cuda-init"),
    "DD503": ("no-kernel-image", "ptx-jit"),
    "DD504": ("cudnn-version-mismatch", "cudnn-init-failed"),
    "DD506": ("jax-version-mismatch",),
    "DD507": ("numpy-abi",),
    "DD512": ("mps-macos",),
    "DD303": ("companion-operator",),
    # An extension's static build facts predict what its import prints (right-corpus'
    # extension-for-another-torch signature: "undefined symbol: _ZN3c10...").
    "DD520": ("extension-build-mismatch", "companion-operator"),
    "DD521": ("extension-build-mismatch", "companion-operator"),
}
# One finding that, for the same framework, makes another one its evidence (same root cause).
ABSORBS = {
    "DD511": ("DD201",),  # native Windows TensorFlow after 2.10 is the CPU-only build
    "DD604": ("DD504",),  # the library it could not load is the cuDNN DD504 finds missing
    "DD303": ("DD601",),  # a companion built for another torch fails its import
    "DD509": ("DD303",),  # Keras 3 and its backend's pin on Keras 2: one conflict, two sides
    "DD520": ("DD601", "DD526", "DD527"),  # an extension built for another torch fails its import
    "DD521": ("DD601", "DD526", "DD527"),  # an extension of another CUDA major fails its import
    "DD523": ("DD526", "DD527"),  # an extension without its compiled modules fails its import
    "DD528": ("DD526", "DD527"),  # a triton of another line than torch's fails its import
}
# Absorptions between two distributions' findings: they need not be about one framework.
_ACROSS = ("DD509",)
# Static findings about one framework whose evidence does not name it.
_IMPLIED = {"DD506": "jax", "DD511": "tensorflow", "DD512": "torch"}
# What follows from a framework's root cause: its import failing, its devices missing, its
# computations failing, its child dying. Reported alone only when nothing explains them.
CONSEQUENCES = ("DD601", "DD605", "DD606", "DD607", "DD610", "DD526", "DD527")
# Machine-wide causes: every framework's CUDA start-up and GPU list follow from them.
MACHINE = ("DD101", "DD102", "DD103", "DD104", "DD401", "DD402", "DD502")
_MACHINE_EXPLAINS = ("DD605", "DD610")


@dataclass(frozen=True)
class Diagnosis:
    """The judged findings (one per root cause, ranked) and the primary one."""

    findings: tuple[Finding, ...]

    @property
    def primary(self) -> Finding | None:
        first = self.findings[0] if self.findings else None
        return first if first and first.severity.rank >= Severity.WARNING.rank else None

    def to_dict(self) -> JSON:
        primary = self.primary
        return {
            "primary": None
            if primary is None
            else {
                "code": primary.code,
                "severity": primary.severity.value,
                "title": primary.title,
                "explains": len(primary.explains),
            },
            "root_causes": sum(
                1 for f in self.findings if f.severity.rank >= Severity.WARNING.rank
            ),
            "folded": sum(len(f.explains) for f in self.findings),
        }


def framework_of(finding: Finding) -> str | None:
    """The framework a finding is about: named, implied by its code, or by its distribution."""
    named = finding.evidence.get("framework")
    if isinstance(named, str):
        return named
    dist = finding.evidence.get("distribution")
    if isinstance(dist, str):
        from dldoctor.matrix import load

        spec = load().package(dist.lower().replace("_", "-"))
        if spec is not None and spec.framework:
            return spec.framework
    return _IMPLIED.get(finding.code)


def _absorbs(root: Finding, other: Finding) -> bool:
    if other.code not in ABSORBS.get(root.code, ()):
        return False
    if root.code == "DD604":  # only DD504's "no cuDNN of that major is installed"
        libraries = root.evidence.get("libraries") or []
        return "pip" in other.evidence and any(str(x).startswith("libcudnn") for x in libraries)
    if root.code == "DD303":  # the companion whose requirement is unmet is the one failing
        return root.evidence.get("distribution") == other.evidence.get("module")
    if root.code == "DD509":  # the backend's requirement on keras, or keras's on the backend
        pair = {"keras", str(root.evidence.get("backend_distribution"))}
        required = str(other.evidence.get("requirement") or "")
        name = re.split(r"[\s\[<>=!~;(]", required, maxsplit=1)[0].lower()
        return {str(other.evidence.get("distribution")).lower(), name} == pair
    if root.code in ("DD520", "DD521", "DD523", "DD528"):  # the extension judged is the one failing
        if "extension" in other.evidence:  # its own probe child (DD526, DD527)
            return _extension(other) == _extension(root)
        module = other.evidence.get("module")
        return isinstance(module, str) and canonical(module) == root.evidence.get("extension")
    return True


def _extension(finding: Finding) -> str | None:
    named = finding.evidence.get("extension")
    return canonical(named) if isinstance(named, str) else None


def _other_extension(root: Finding, other: Finding) -> bool:
    """Two findings about different extensions of one framework: one does not explain the other
    (flash-attn built for another torch says nothing of xformers' import)."""
    mine, theirs = _extension(root), _extension(other)
    return mine is not None and theirs is not None and mine != theirs


def _cause(finding: Finding) -> str | None:
    cause = finding.evidence.get("cause")
    return cause if isinstance(cause, str) else None


def _said(finding: Finding) -> bool:
    """Made from a framework's own words (a failure signature), not predicted from versions."""
    return bool(finding.evidence.get("said"))


def _generic(finding: Finding) -> bool:
    return finding.evidence.get("generic") is True


def _brief(finding: Finding) -> list[JSON]:
    """A folded finding as evidence, with what it had folded itself."""
    own = {"code": finding.code, "severity": finding.severity.value, "title": finding.title}
    return [own, *finding.explains]


class _Folder:
    def __init__(self, findings: list[Finding]) -> None:
        self.items = list(findings)
        self.folded: dict[int, list[Finding]] = {}  # root index → findings folded under it
        self.gone: set[int] = set()

    def fold(self, root: int, other: int) -> None:
        if root == other or other in self.gone or root in self.gone:
            return
        self.gone.add(other)
        self.folded.setdefault(root, []).append(self.items[other])
        self.folded[root] += self.folded.pop(other, [])

    def alive(self) -> list[int]:
        return [i for i in range(len(self.items)) if i not in self.gone]

    def result(self) -> list[Finding]:
        out = []
        for i in self.alive():
            finding, under = self.items[i], self.folded.get(i, [])
            if under:
                worst = max([finding.severity, *(f.severity for f in under)], key=lambda s: s.rank)
                explains = tuple(b for f in under for b in _brief(f))
                finding = dataclasses.replace(
                    finding, severity=worst, explains=finding.explains + explains
                )
            out.append(finding)
        return out


def diagnose(findings: list[Finding] | tuple[Finding, ...]) -> Diagnosis:
    """Fold consequences under their root causes and rank what is left."""
    folder = _Folder(list(findings))
    items = folder.items
    serious = [i for i, f in enumerate(items) if f.severity.rank >= Severity.WARNING.rank]
    # 1. A prediction and its observation are one finding: the static one, with the fix.
    for s in serious:
        causes = PREDICTS.get(items[s].code, ())
        for r in serious:
            if framework_of(items[r]) != framework_of(items[s]):
                if items[s].code in _ACROSS and _absorbs(items[s], items[r]):
                    folder.fold(s, r)
                continue
            if _other_extension(items[s], items[r]):
                continue
            if _cause(items[r]) in causes or _absorbs(items[s], items[r]):
                folder.fold(s, r)
    # 2. Per framework, what its root cause explains folds under it: findings showing the same
    #    words (cause), its generic symptoms, and what keeps it off the GPU when the cause does.
    for framework in {framework_of(items[i]) for i in serious} - {None}:
        mine = [i for i in folder.alive() if i in serious and framework_of(items[i]) == framework]
        # A generic symptom is a cause only when nothing more specific explains it.
        roots = [i for i in mine if items[i].code not in CONSEQUENCES]
        roots.sort(key=lambda i: (_generic(items[i]), -items[i].severity.rank, i))
        for i in mine:
            if i in roots and not _generic(items[i]):
                continue
            root = next(
                (
                    r
                    for r in roots
                    if r != i
                    and r in folder.alive()
                    and not (_generic(items[i]) and _generic(items[r]))
                    and _explains(items[r], items[i])
                ),
                None,
            )
            if root is not None:
                folder.fold(root, i)
        _fold_repeats(folder, [i for i in mine if i in folder.alive()])
    # 3. A machine-wide cause explains frameworks that see no GPU or cannot compute on it.
    machine = [i for i in folder.alive() if items[i].code in MACHINE and i in serious]
    if machine:
        for i in folder.alive():
            if (
                items[i].code in _MACHINE_EXPLAINS
                or _cause(items[i]) == "cuda-init"
                or _driver_library(items[i])
            ):
                folder.fold(machine[0], i)
    judged = folder.result()
    ranked = sorted(
        enumerate(judged),
        key=lambda p: (-p[1].severity.rank, -len(p[1].explains), not _said(p[1]), p[1].code, p[0]),
    )
    return Diagnosis(tuple(f for _, f in ranked))


# The driver's own libraries: missing when the driver is, whatever the framework.
_DRIVER_LIBRARIES = ("libcuda.", "libnvidia-")


def _driver_library(finding: Finding) -> bool:
    """A library that could not be loaded (DD604) is only the driver's: the driver explains it."""
    libraries = finding.evidence.get("libraries")
    return (
        finding.code == "DD604"
        and isinstance(libraries, list)
        and bool(libraries)
        and all(str(lib).startswith(_DRIVER_LIBRARIES) for lib in libraries)
    )


def _gpu_related(finding: Finding) -> bool:
    return finding.code in GPU_STATIC or _cause(finding) in GPU_CAUSES


def _explains(root: Finding, other: Finding) -> bool:
    """Whether ``root`` (a cause of one framework) explains ``other`` (of the same framework)."""
    if _other_extension(root, other):
        return False
    cause = _cause(other)
    if cause is not None and (cause == _cause(root) or cause in PREDICTS.get(root.code, ())):
        return True  # the same words, or what the static check predicted
    if other.code == "DD610":
        return True  # nothing could run: whatever is wrong with it explains that
    if not _gpu_related(root):
        return False
    if _generic(other) or other.code == "DD605":
        return True
    device = str(other.evidence.get("device") or "")
    return other.code == "DD606" and device not in ("", "cpu")


def _fold_repeats(folder: _Folder, indices: list[int]) -> None:
    """Smoke tests failing with the same words (one cuDNN failure, six tests) are one problem."""
    seen: dict[str, int] = {}
    for i in indices:
        finding = folder.items[i]
        error = finding.evidence.get("error")
        if finding.code != "DD606" or not isinstance(error, dict):
            continue
        lines = str(error.get("message") or "").strip().splitlines()
        key = f"{error.get('type')}: {lines[0] if lines else ''}"[:300]
        if key in seen:
            folder.fold(seen[key], i)
        else:
            seen[key] = i
