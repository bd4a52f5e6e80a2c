"""Fixes for extension libraries: the build for the installed torch, or a rebuild against it."""

from __future__ import annotations

from typing import Any

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import interpreter, safe_requirement
from dldoctor.fixes.installers import Install, Installer, installer_for
from dldoctor.fixes.installers import fix as rendered
from dldoctor.fixes.runtime import paired_companion
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Fix

JSON = dict[str, Any]
COMPANIONS = ("torchvision", "torchaudio")


def spec_of(matrix: Matrix, key: str) -> JSON:
    return next((s for s in matrix.tables["extensions"]["extension"] if s["name"] == key), {})


def torch_variant(facts: Facts) -> str | None:
    """The installed torch's build as the wheel indexes name it: 'cu130', 'cpu' (its label)."""
    torch = q.installed(facts, "torch")
    local = str((torch or {}).get("version") or "").partition("+")[2]
    return local or None


def for_torch(facts: Facts, matrix: Matrix, ext: JSON) -> Fix | None:
    """What makes ``ext`` fit the installed torch: the paired companion, the wheel from its
    torch-specific index, a rebuild against this torch, or (source-only) a rebuild from a
    checkout; None when nothing better than the finding's words can be said."""
    key = str(ext.get("key"))
    spec = spec_of(matrix, key)
    torch = q.installed(facts, "torch")
    if key in COMPANIONS:
        return companion(facts, matrix, key, str(ext.get("version") or ""))
    version = str(ext.get("version") or "")
    if spec.get("index") and torch:
        variant = torch_variant(facts)
        if variant:
            page = str(spec["index"]).format(
                torch=f"{minor_of(q.release_of(torch['version']))}.0", variant=variant
            )
            intent = Install((key,), find_links=page, reinstall=True)
            return rendered(
                f"Install the {key} wheel built for torch {torch['version']} from its index.",
                intent,
                facts,
            )
    if spec.get("rebuild") == "pip" and version:
        return rebuild(facts, key, q.release_of(version))
    if spec.get("rebuild") == "source":
        return from_checkout(facts, key, spec)
    return None


def companion(facts: Facts, matrix: Matrix, key: str, version: str) -> Fix | None:
    """torchvision/torchaudio of torch's build: the installed release's own build for torch's
    variant where the release already pairs (a plain '==0.28.*' is met by the wrong build and
    would change nothing), else the paired release."""
    torch = q.installed(facts, "torch")
    release = matrix.torch_release(torch["version"]) if torch else None
    variant = torch_variant(facts)
    pair = getattr(release, key, None) if release else None
    if torch and variant and pair and minor_of(version) == pair:
        requirement = f"{key}=={q.release_of(version)}+{variant}"
        intent = Install((requirement,), index_url=matrix.torch_index_url.format(variant=variant))
        return rendered(
            f"Install {key} {q.release_of(version)} built like the installed torch "
            f"{torch['version']} ({variant}), from PyTorch's index.",
            intent,
            facts,
        )
    return paired_companion(facts, matrix, key)


def rebuild(facts: Facts, key: str, version: str) -> Fix:
    """Build the extension's sdist against the installed torch (no build isolation)."""
    intent = Install((f"{key}=={version}",), reinstall=True, build=True)
    return rendered(
        f"Rebuild {key} {version} against the installed torch (it needs nvcc of torch's CUDA "
        "major, a supported host compiler and ninja: see the build checks).",
        intent,
        facts,
        notes="flash-attn's build first looks for its release wheel for this torch, CUDA major "
        "and C++ ABI, and compiles only when there is none (set MAX_JOBS to bound its memory).",
    )


def from_checkout(facts: Facts, key: str, spec: JSON) -> Fix:
    """A source-only extension (apex, detectron2): pip builds it from a clone of its repository."""
    repository = str(spec.get("repository") or "")
    options = tuple(
        x
        for o in spec.get("build_options") or []
        for x in ("--config-settings", f"--build-option={o}")
    )
    commands: tuple[tuple[str, ...], ...] = ()
    if installer_for(facts, key) in (Installer.PIP,) and repository:
        commands = (
            (
                interpreter(facts),
                "-m",
                "pip",
                "install",
                "-v",
                "--no-build-isolation",
                "--no-cache-dir",
                *options,
                ".",
            ),
        )
    return Fix(
        f"Rebuild {key} from a checkout of {repository} against the installed torch"
        + (" with its C++/CUDA extensions." if options else "."),
        commands,
        automatic=False,  # it runs in a clone the user makes, not in this directory
        notes=f"Run it inside a clone of {repository} (git clone {repository}).",
    )


def newer_release(facts: Facts, key: str, version: str, why: str) -> Fix:
    """A release after the installed one (which lacks what this torch needs)."""
    requirement = f"{key}>{q.release_of(version)}"
    if not safe_requirement(requirement):
        return Fix(f"Install a {key} release newer than {version} ({why}).")
    return rendered(
        f"Install a {key} release newer than {version} ({why}).", Install((requirement,)), facts
    )


def paired_triton(facts: Facts, pin: str, torch_version: str) -> Fix:
    """The triton release the installed torch's wheels pin (compat_matrix/extensions.toml)."""
    return rendered(
        f"Install triton {pin}, the release torch {torch_version} is built and tested with.",
        Install((f"triton=={pin}",)),
        facts,
    )
