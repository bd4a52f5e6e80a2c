"""Verdicts from what frameworks said about their native libraries: a cuDNN of another version,
a CUDA library shadowed by an older copy, a C/C++ runtime older than the build needs."""

from __future__ import annotations

import posixpath
from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks import runtime_said as said
from dldoctor.checks.registry import Verdict, check
from dldoctor.checks.runtime_loaded import Foreign, file_stem, foreign
from dldoctor.checks.runtime_loaded import fix as loaded_fix
from dldoctor.facts import queries as q
from dldoctor.facts.libscan import library_of
from dldoctor.facts.model import Facts
from dldoctor.fixes import runtime as fixes
from dldoctor.fixes.intents import directory_key, fix, path_without
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix

JSON = dict[str, Any]


def _ld_library_path(facts: Facts) -> list[str]:
    value = (facts.env.get("variables") or {}).get("LD_LIBRARY_PATH")
    return [directory_key(d) for d in str(value or "").split(":") if d]


def copies(facts: Facts, record: JSON, stem: str) -> JSON:
    """Where copies of a library are: loaded by the framework, in LD_LIBRARY_PATH, elsewhere."""
    dirs = _ld_library_path(facts)
    loaded = [
        {"path": lib.get("path"), "source": lib.get("source")}
        for lib in record.get("libraries") or []
        if isinstance(lib, dict) and str(lib.get("name", "")).startswith(stem + ".")
    ]
    found: list[JSON] = []
    # The header/ldconfig scan (five libraries) and the library map's copies (every library a
    # framework loads: nvJitLink, cuSPARSE, NVRTC...), each file once.
    mapped = ((facts.cuda.get("library_map") or {}).get("copies") or {}).values()
    for entries in [*(facts.cuda.get("libraries") or {}).values(), *mapped]:
        for entry in entries or []:
            path = str((entry or {}).get("path") or "")
            seen = any(c["path"] == path for c in found)
            if posixpath.basename(path).startswith(stem + ".") and not seen:
                found.append({"path": path, "version": entry.get("version")})
    on_path = [c for c in found if directory_key(posixpath.dirname(c["path"])) in dirs]
    return {
        "loaded": loaded,
        "on_LD_LIBRARY_PATH": on_path,
        "elsewhere": found,
        "LD_LIBRARY_PATH": dirs,
    }


def _foreign(facts: Facts, matrix: Matrix, obs: said.Observation, stem: str) -> Foreign | None:
    """The copy loaded (or, when the load failed, the loader's pick) that is not one the
    framework's own packages ship, from the library map (schema 1.3 and the map)."""
    key = library_of(stem + ".so", {str(r["file"]): str(r["key"]) for r in _rows(matrix)})
    return foreign(facts, matrix, obs.framework, obs.record, key, predict=True) if key else None


def _rows(matrix: Matrix) -> list[JSON]:
    return list(matrix.tables["libraries"]["library"])


def _shadow(facts: Facts, record: JSON, stem: str) -> str | None:
    """The copy that shadows the framework's own: loaded from outside its wheels, or first in
    LD_LIBRARY_PATH."""
    where = copies(facts, record, stem)
    for lib in where["loaded"]:
        if not str(lib.get("source") or "").startswith(("pip wheel", "bundled")):
            return str(lib["path"])
    if where["on_LD_LIBRARY_PATH"]:
        return str(where["on_LD_LIBRARY_PATH"][0]["path"])
    return None


def _shadow_fix(facts: Facts, obs: said.Observation, stem: str, shadow: str | None) -> Fix | None:
    if shadow and directory_key(posixpath.dirname(shadow)) in _ld_library_path(facts):
        summary = (
            f"Remove {posixpath.dirname(shadow)} from LD_LIBRARY_PATH: the dynamic loader searches it "
            f"first, so its older {posixpath.basename(shadow)} is loaded instead of the copy "
            f"{obs.framework} installs with its NVIDIA wheels (which its libraries find by RPATH)."
        )
        intent = path_without(facts, "LD_LIBRARY_PATH", posixpath.dirname(shadow))
        where = "Check your shell profile, module files or container image for where it is set."
        return fix(summary, intent, facts=facts) if intent else Fix(summary, notes=where)
    if shadow:
        return Fix(
            f"{shadow} is loaded instead of the copy {obs.framework}'s NVIDIA wheels provide: remove "
            "it from the loader's path (ldconfig, LD_LIBRARY_PATH) or upgrade it."
        )
    dist = rt.distribution(facts, obs.framework) or {}
    return fixes.pinned_wheels(facts, dist.get("name"), [stem + ".so"])


def cudnn_dotted(text: str | None) -> str | None:
    """cuDNN as frameworks print it, dotted: '8, 3, 2' and '8.3.2' as is, 8600 → 8.6.0 and
    90100 → 9.1.0 (cudnnGetVersion: major*1000 + minor*100 + patch, from 9 major*10000)."""
    value = str(text or "").strip().replace(", ", ".").replace(",", ".")
    if value.isdigit() and len(value) in (4, 5):
        major = value[: len(value) - 3] if len(value) == 4 else value[:1]
        rest = value[len(major) :]
        return f"{int(major)}.{int(rest[:-2])}.{int(rest[-2:])}"
    return value if q.version_of(value) else None


def _cudnn_needed(groups: dict[str, str]) -> Fix | None:
    """When the cuDNN loaded is older than the one the build was compiled with: that one."""
    built, found = cudnn_dotted(groups.get("built")), cudnn_dotted(groups.get("found"))
    have, want = q.version_of(found), q.version_of(built)
    if have is None or want is None or have >= want:
        return None
    return Fix(
        f"Install cuDNN {built} or a newer {want.major}.x (the version the build was compiled "
        f"with; the copy it loaded, {found}, is older), and make it the one the loader finds first."
    )


@check(
    "DD611",
    "cudnn-version-mismatch",
    "A framework loaded a cuDNN of another version than it was built with (observed)",
    Area.CUDA,
)
def cudnn_version_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework said it was built against one cuDNN and loaded another ("cuDNN version
    incompatibility: PyTorch was compiled against (8, 9, 2) but found runtime version (8, 5, 0)",
    "Loaded runtime CuDNN library: 8.5.0 but source was compiled with: 8.6.0"), or cuDNN failed to
    initialise ("DNN library initialization failed").

    Why: every convolution, RNN and attention kernel that uses cuDNN fails; the framework imports
    and even lists the GPU, so the failure shows only in the first training step.

    Fix: remove the directory holding the other cuDNN from LD_LIBRARY_PATH (the evidence names
    the copies), or install the cuDNN the build pins.
    """
    verdicts = []
    for obs in said.observations(facts, matrix, "DD611"):
        where = copies(facts, obs.record, "libcudnn")
        found = list(said.intent_fixes(facts, matrix, obs))
        elsewhere = _foreign(facts, matrix, obs, "libcudnn")
        shadow = elsewhere.path if elsewhere else _shadow(facts, obs.record, "libcudnn")
        newer = _cudnn_needed(obs.groups)
        if newer:
            found = [newer, *found]
        if elsewhere:
            found = [loaded_fix(facts, elsewhere), *found]
        elif shadow:
            remedy = _shadow_fix(facts, obs, "libcudnn", shadow)
            found = [remedy, *found] if remedy else found
        extra = {"own_copies": elsewhere.evidence()["own_copies"]} if elsewhere else {}
        base = said.verdict(facts, matrix, obs, cudnn_copies=where, shadowing_copy=shadow, **extra)
        verdicts.append(Verdict(base.severity, base.title, base.evidence, tuple(found)))
    return verdicts


@check(
    "DD612",
    "shadowed-cuda-library",
    "An older copy of a CUDA library is loaded before the framework's own (undefined symbol)",
    Area.CUDA,
)
def shadowed_cuda_library(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: loading a framework failed with "undefined symbol" in a CUDA library
    (libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12),
    or JAX found an older CUDA library than it was built against.

    Why: the library that lacks the symbol is an older copy (a system CUDA on LD_LIBRARY_PATH, a
    conda package) found before the one the framework's NVIDIA wheels install. Reinstalling the
    framework changes nothing: the older copy is still found first.

    Fix: remove the directory of the older copy from LD_LIBRARY_PATH (the evidence names it), or
    install the NVIDIA wheel version the framework pins.
    """
    verdicts = []
    for obs in said.observations(facts, matrix, "DD612"):
        groups = obs.groups
        library = groups.get("provider") or groups.get("library") or ""
        stem = file_stem(library) if library else ""
        elsewhere = _foreign(facts, matrix, obs, stem) if stem else None
        shadow = (
            elsewhere.path if elsewhere else (_shadow(facts, obs.record, stem) if stem else None)
        )
        base = said.verdict(
            facts,
            matrix,
            obs,
            library=stem or None,
            shadowing_copy=shadow,
            copies=copies(facts, obs.record, stem) if stem else None,
            **({"own_copies": elsewhere.evidence()["own_copies"]} if elsewhere else {}),
        )
        title = base.title + (f" ({shadow})" if shadow else "")
        if elsewhere is not None:  # the root cause: which copy, through what, instead of which
            title = _shadowed_title(facts, obs, elsewhere)
        remedy = (
            loaded_fix(facts, elsewhere)
            if elsewhere
            else (_shadow_fix(facts, obs, stem, shadow) if stem else None)
        )
        verdicts.append(
            Verdict(base.severity, title, base.evidence, ((remedy,) if remedy else ()) + base.fixes)
        )
    return verdicts


def _shadowed_title(facts: Facts, obs: said.Observation, found: Foreign) -> str:
    """ "PyTorch 2.6.0 finds /usr/local/cuda/lib64/libnvJitLink.so.12 through LD_LIBRARY_PATH
    instead of its own copy (…/nvidia/nvjitlink/lib/…): libcusparse.so.12 needs __nvJitLink…"."""
    label = rt.version_label(facts, obs.framework, obs.record)
    verb = "loaded" if found.observed else "finds"
    where = f" through LD_LIBRARY_PATH ({found.directory})" if found.directory else ""
    own = f" ({found.own_path})" if found.own_path else ""
    groups = obs.groups
    needs = (
        f": {groups['victim']} needs {groups['symbol']}, which that copy lacks"
        if groups.get("victim") and groups.get("symbol")
        else ""
    )
    return f"{label} {verb} {found.path}{where} instead of its own copy{own}{needs}"


@check(
    "DD615",
    "system-library-too-old",
    "The system's C or C++ runtime is older than a framework's binaries need (GLIBC/GLIBCXX)",
    Area.SYSTEM,
)
def system_library_too_old(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: loading a framework failed with "version `GLIBCXX_3.4.30' not found (required by
    …/libtorch_python.so)" or the same for GLIBC.

    Why: the binaries were built for a newer C/C++ runtime than the one loaded: an old OS, or an
    older libstdc++ in a conda environment found first.

    Fix: a newer libstdc++ in the conda environment, or a build (or OS, or container) matching
    this system's glibc.
    """
    return [said.verdict(facts, matrix, obs) for obs in said.observations(facts, matrix, "DD615")]
