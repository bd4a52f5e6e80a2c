"""Which builds of the wanted frameworks work together here: with a driver upgrade, or without.

(A) the builds these GPUs run best, after one driver upgrade to the version every one of them
needs; (B) the newest releases whose builds the loaded driver already runs, counting CUDA
minor-version compatibility (a build of CUDA 12.x runs on the first 12.x driver, with limits,
when the GPUs run its compiled code: PTX needs the driver of the toolkit that made it). Then the
NVIDIA wheels they pin: one set for the environment, or why they cannot share one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.builds import Build, candidates, installed_release
from dldoctor.fixes.plan import below, newest
from dldoctor.matrix import Matrix, minor_of
from dldoctor.matrix.rules import CUBIN
from dldoctor.model import Intent


@dataclass(frozen=True)
class Resolution:
    builds: tuple[Build, ...]  # one per framework that has a fitting build, in the asked order
    missing: dict[str, str]  # framework → why no build fits
    driver: str | None  # the driver they all need (A), or the loaded one (B)
    pins: dict[str, str] = field(default_factory=dict)  # the one set of NVIDIA wheels
    conflict: str = ""  # why they cannot share one environment ("" when they can)
    groups: tuple[tuple[Build, ...], ...] = ()  # with a conflict: builds that can share, each

    def intents(self, group: tuple[Build, ...] | None = None) -> tuple[Intent, ...]:
        """One install per build, each with the shared NVIDIA pins it uses."""
        out = []
        builds = group or self.builds
        for build in builds:
            # A wheel two builds use is pinned in each install, so a later one cannot move it.
            shared = tuple(
                f"{w}{self.pins[w]}"
                for w in sorted(build.pins)
                if w in self.pins and sum(w in b.pins for b in builds) > 1
            )
            out.append(
                Intent(
                    (*build.requirements, *shared),
                    index_url=build.index_url,
                    remove_first=build.remove,
                    framework=build.framework,
                    cuda=build.cuda,
                    driver=_needs(build, self.driver),
                )
            )
        return tuple(out)


def _needs(build: Build, driver: str | None) -> str | None:
    """The driver an install waits for: its full floor, or the MVC floor a loaded driver meets."""
    if driver and below(driver, build.driver_full) and build.driver_mvc:
        return build.driver_mvc
    return build.driver_full


def runs(driver: str | None, build: Build) -> bool | None:
    """Whether the loaded driver runs the build: fully, or by minor-version compatibility when
    the GPUs have its compiled code (unknown code is not ruled out). None: driver unknown."""
    full = below(driver, build.driver_full)
    if full is False:
        return True
    mvc = below(driver, build.driver_mvc)
    if mvc is None and full is None:
        return None
    return mvc is False and build.code in (CUBIN, None)


def _at_most(build: Build, installed: str | None) -> bool:
    if not installed:
        return True
    try:
        return Version(minor_of(build.release) or "0") <= Version(minor_of(installed) or "0")
    except InvalidVersion:
        return True


def upgrade(
    frameworks: list[str],
    facts: Facts,
    matrix: Matrix,
    prefer_installed: bool = True,
    fit_driver: str | None = None,
) -> Resolution:
    """(A) The builds these GPUs run best, with whatever driver that takes.

    The installed release when one of its builds runs here (a driver is upgraded, a release is
    not changed unasked), else the newest release that has one; of that release, the variant
    it recommends, unless ``fit_driver`` fully runs another one of it (then no upgrade at all).
    """
    builds: list[Build] = []
    missing: dict[str, str] = {}
    for name in frameworks:
        found = candidates(name, facts, matrix)
        installed = _installed(facts, name)
        same = [
            b
            for b in found
            if prefer_installed and installed and minor_of(b.release) == minor_of(installed)
        ]
        release = same or [b for b in found if found and b.release == found[0].release]
        if not release:
            missing[name] = "no GPU build in the matrix fits this Python and these GPUs"
            continue
        fully = [b for b in release if fit_driver and below(fit_driver, b.driver_full) is False]
        builds.append((fully or release)[0])
    driver = newest(b.driver_full for b in builds)
    return _shared(tuple(builds), missing, driver)


def keep_driver(
    frameworks: list[str], facts: Facts, matrix: Matrix, cap: bool = True
) -> Resolution | None:
    """(B) The newest release of each framework whose builds the loaded driver runs (no newer
    than the installed one when ``cap``); None when the loaded driver is unknown."""
    driver = q.driver_version(facts)
    if not driver:
        return None
    builds: list[Build] = []
    missing: dict[str, str] = {}
    for name in frameworks:
        installed = _installed(facts, name) if cap else None
        fitting = [
            b for b in candidates(name, facts, matrix) if _at_most(b, installed) and runs(driver, b)
        ]
        if fitting:
            builds.append(fitting[0])
        else:
            missing[name] = f"no GPU build in the matrix runs on driver {driver}"
    return _shared(tuple(builds), missing, driver)


def _installed(facts: Facts, name: str) -> str | None:
    names = {
        "torch": ("torch",),
        "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel"),
        "jax": ("jax",),
        "paddle": ("paddlepaddle-gpu", "paddlepaddle"),
        "onnxruntime": ("onnxruntime-gpu", "onnxruntime"),
    }[name]
    return next((v for v in (installed_release(facts, n) for n in names) if v), None)


def _shared(builds: tuple[Build, ...], missing: dict[str, str], driver: str | None) -> Resolution:
    """The NVIDIA wheels every build accepts, or the first pair that cannot share them."""
    pins, conflict = _intersect(builds)
    if not conflict:
        return Resolution(builds, missing, driver, pins)
    groups: list[list[Build]] = []
    for build in builds:  # greedy: each build into the first environment it agrees with
        home = next((g for g in groups if not _intersect((*g, build))[1]), None)
        if home is None:
            groups.append([build])
        else:
            home.append(build)
    return Resolution(builds, missing, driver, pins, conflict, tuple(tuple(g) for g in groups))


def _intersect(builds: tuple[Build, ...]) -> tuple[dict[str, str], str]:
    """Per NVIDIA wheel, the versions every build accepts; a conflict when none is left.

    A build whose cuDNN major is known but whose exact pin is not still demands that major of
    the wheel of its CUDA major (nvidia-cudnn-cu12 9.x is not cuDNN 8).
    """
    specs: dict[str, list[tuple[Build, str]]] = {}
    for build in builds:
        for wheel, spec in build.pins.items():
            specs.setdefault(wheel, []).append((build, spec))
        cudnn = f"nvidia-cudnn-cu{build.cuda.split('.')[0]}"
        if build.cudnn_major is not None and cudnn not in build.pins:
            major = f">={build.cudnn_major},<{build.cudnn_major + 1}"
            specs.setdefault(cudnn, []).append((build, major + _LOADS))
    pins = {}
    for wheel, wanted in specs.items():
        exact = {s[2:] for _, s in wanted if s.startswith("==") and "*" not in s}
        combined = SpecifierSet(",".join(s.removesuffix(_LOADS) for _, s in wanted))
        if len(exact) > 1 or not _satisfiable(combined, exact):
            return {}, _why(wheel, wanted)
        if any(not s.endswith(_LOADS) for _, s in wanted):  # a wheel some build declares
            pins[wheel] = f"=={next(iter(exact))}" if exact else str(combined)
    return pins, ""


def _satisfiable(spec: SpecifierSet, exact: set[str]) -> bool:
    """Some version meets every specifier: one of the bounds they name (the forms pins take)."""
    tried = [Version(v) for v in exact] or [Version("0")]
    for one in spec:
        try:
            tried.append(Version(one.version.removesuffix(".*")))
        except InvalidVersion:
            continue
    return any(spec.contains(v, prereleases=True) for v in tried)


def _why(wheel: str, wanted: list[tuple[Build, str]]) -> str:
    said = "; ".join(_wants(b, wheel, s) for b, s in wanted)
    return f"they need different {wheel.replace('nvidia-', '').rsplit('-', 1)[0]} releases: {said}"


def _wants(build: Build, wheel: str, spec: str) -> str:
    if spec.endswith(_LOADS):  # known from the cuDNN it was built with, not from a declared pin
        return f"{build.label} (CUDA {build.cuda}) loads cuDNN {build.cudnn_major}"
    return f"{build.label} (CUDA {build.cuda}) pins {wheel}{spec}"


_LOADS = "#loads"  # marks a cuDNN major known from the build, not a wheel the build declares
