"""The torch build for this machine: the newest CUDA variant the driver runs and the GPUs can use."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import floor
from dldoctor.fixes.installers import Install, fix
from dldoctor.matrix import Matrix, TorchRelease, minor_of
from dldoctor.matrix.rules import coverage, driver_runs
from dldoctor.model import Fix, Intent


@dataclass(frozen=True)
class Choice:
    release: TorchRelease
    variant: str
    same_release: bool  # False: only a newer torch release has a build that fits


def _driver_ok(facts: Facts, matrix: Matrix, variant: str) -> bool:
    supported = q.version_of(facts.nvidia.get("cuda_driver_version"))
    if supported is not None:
        return Version(variant) <= supported
    runs = driver_runs(matrix, q.driver_version(facts), variant, q.windows_driver(facts))
    return runs is not False  # no driver loaded yet: any variant, the driver comes with it


def _arch_ok(facts: Facts, matrix: Matrix, release: TorchRelease, variant: str) -> bool:
    arch = matrix.torch_arch(f"{release.torch}.0", variant)
    if arch is None:
        return True  # unknown list: do not rule the variant out
    ccs = [g["compute_capability"] for g in q.gpus(facts) if g.get("compute_capability")]
    return all(coverage(arch.sm, arch.ptx, cc) for cc in ccs)


def _variants(release: TorchRelease) -> list[str]:
    """The default variant first (the stable one), then the others, newest first."""
    preferred = [release.pypi_default] if release.pypi_default else []
    return preferred + [
        v for v in sorted(release.cuda, key=Version, reverse=True) if v not in preferred
    ]


def choose(facts: Facts, matrix: Matrix, version: str) -> Choice | str:
    """The build to install, or why there is none.

    Tries the installed release, then newer ones, then, only for GPUs the installed release no
    longer builds for, older ones (a driver that is merely old is upgraded, not worked around). Returns "driver" when the driver is too old for every build of the installed
    release, "arch:<cuda>" when only a newer driver would unlock a build for these GPUs
    (<cuda> is that build's variant), "old-driver:<release>:<cuda>" / "new-driver:…" when only
    an older / a newer release has code for them and it needs a newer driver, "arch" when no
    published build covers them, "unknown" when the installed release is not in the matrix.
    """
    installed = matrix.torch_release(version)
    if installed is None:
        return "unknown"
    newer = [r for r in matrix.torch_releases if Version(r.torch) > Version(installed.torch)]
    older = [r for r in matrix.torch_releases if Version(r.torch) < Version(installed.torch)][::-1]

    python = q.version_of(facts.python.get("version"))

    def fitting(releases: list[TorchRelease], driver: bool = True) -> Choice | None:
        for release in releases:
            if python is not None and release is not installed and python not in release.python:
                continue  # no wheel of that release for this Python
            for variant in _variants(release):
                if (not driver or _driver_ok(facts, matrix, variant)) and _arch_ok(
                    facts, matrix, release, variant
                ):
                    return Choice(release, variant, release is installed)
        return None

    found = fitting([installed, *newer])
    if found:
        return found
    if not any(_arch_ok(facts, matrix, installed, v) for v in installed.cuda):
        # The GPUs are older than anything this release builds for: the last release that did.
        found = fitting(older)
        if found:
            return found
        found = fitting(older, driver=False)
        if found:
            return f"old-driver:{found.release.torch}:{found.variant}"
        found = fitting(newer, driver=False)  # GPUs newer than the release: a later one has code
        if found:
            return f"new-driver:{found.release.torch}:{found.variant}"
        return "arch"
    if not any(_driver_ok(facts, matrix, v) for v in installed.cuda):
        return "driver"
    found = fitting([installed, *newer], driver=False)
    return f"arch:{found.variant}" if found else "arch"


def tag(variant: str) -> str:
    return "cu" + variant.replace(".", "")


def torch_build(facts: Facts, matrix: Matrix, purpose: str) -> Fix | None:
    """A fix installing the fitting CUDA build of torch (and its companions), or saying why none."""
    dist = q.installed(facts, "torch")
    if not dist:
        return None
    version = q.release_of(dist["version"])
    choice = choose(facts, matrix, version)
    if choice == "unknown":
        url = matrix.torch_index_url.format(variant="cuXXX")
        return Fix(f"Install a CUDA build of torch from {url} ({purpose}).")
    if choice == "driver":
        release = matrix.torch_release(version)
        assert release is not None
        lowest = min(release.cuda, key=Version)
        minimum = floor(matrix.toolkit_floor(lowest), facts)
        target = f" to {minimum} or newer (CUDA {lowest})" if minimum else ""
        cuda = facts.nvidia.get("cuda_driver_version")
        driver = (
            f"The driver supports CUDA {cuda}, so it"
            if cuda
            else f"Driver {q.driver_version(facts)}"
        )
        return Fix(
            f"{driver} is older than every CUDA build of torch {version} "
            f"({', '.join(release.cuda)}): upgrade the NVIDIA driver{target}, or install an older torch.",
            intents=_driver(minimum),
        )
    if isinstance(choice, str) and choice.startswith(("old-driver:", "new-driver:")):
        kind, release_name, variant = choice.split(":")
        minimum = floor(matrix.toolkit_floor(variant), facts)
        which = "newest" if kind == "old-driver" else "first"
        return Fix(
            f"The {which} torch with code for these GPUs is {release_name} (CUDA {variant}), which needs "
            f"{_driver_needed(minimum)}: upgrade the NVIDIA driver, then install torch=={release_name}.* from "
            f"{matrix.torch_index_url.format(variant=tag(variant))}.",
            intents=_driver(minimum),
        )
    if isinstance(choice, str) and choice.startswith("arch:"):
        variant = choice.partition(":")[2]
        minimum = floor(matrix.toolkit_floor(variant), facts)
        return Fix(
            f"Only torch's CUDA {variant} build has code for these GPUs, and it needs "
            f"{_driver_needed(minimum)}: upgrade the NVIDIA driver, then install torch=={version}+{tag(variant)} from "
            f"{matrix.torch_index_url.format(variant=tag(variant))}.",
            intents=_driver(minimum),
        )
    if isinstance(choice, str):
        ccs = ", ".join(
            sorted(
                {
                    f"sm_{g['compute_capability'].replace('.', '')}"
                    for g in q.gpus(facts)
                    if g.get("compute_capability")
                }
            )
        )
        return Fix(
            f"No official torch build ({version} or newer) runs on {ccs} with this driver: "
            "build torch from source with TORCH_CUDA_ARCH_LIST set, or upgrade the driver."
        )
    suffix = tag(choice.variant)
    if choice.same_release:
        reqs = [f"torch=={version}+{suffix}"]
        for companion in ("torchvision", "torchaudio"):
            other = q.installed(facts, companion)
            if other:
                reqs.append(f"{companion}=={q.release_of(other['version'])}+{suffix}")
        summary = f"Install the CUDA {choice.variant} build of torch {version} ({purpose})."
    else:
        direction = (
            "Upgrade" if Version(choice.release.torch) > Version(minor_of(version)) else "Go back"
        )
        reqs = [f"torch=={choice.release.torch}.*"]
        if q.installed(facts, "torchvision"):
            reqs.append(f"torchvision=={choice.release.torchvision}.*")
        if q.installed(facts, "torchaudio"):
            reqs.append(f"torchaudio=={choice.release.torchaudio}.*")
        summary = (
            f"{direction} to torch {choice.release.torch} built for CUDA {choice.variant}: no build of "
            f"torch {version} fits ({purpose})."
        )
    needed = matrix.toolkit_floor(choice.variant) or matrix.major_floor(choice.variant)
    from dldoctor.fixes.installers import conda_owned

    # pip would write over files conda still lists as its own: conda removes its copies first.
    owned = [n for n in ("torch", "torchvision", "torchaudio") if q.installed(facts, n)]
    intent = Install(
        tuple(reqs),
        index_url=matrix.torch_index_url.format(variant=suffix),
        remove_first=tuple(n for n in owned if conda_owned(facts, n)),
        framework="torch",
        cuda=choice.variant,
        driver=floor(needed, facts),
    )
    return fix(summary, intent, facts)


def _driver_needed(minimum: str | None) -> str:
    """ "driver 570.26 or newer", or, where the matrix has no floor for that CUDA, "a newer driver"."""
    return f"driver {minimum} or newer" if minimum else "a newer driver"


def _driver(minimum: str | None) -> tuple[Intent, ...]:
    return (Intent(action="driver", driver=minimum, framework="torch"),)
