"""The compatibility matrix: versioned data files, each row with its source, validated on load."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

HERE = Path(__file__).parent


class MatrixError(ValueError):
    """A data file is malformed: named file, row and problem."""


@dataclass(frozen=True)
class PackageSpec:
    name: str
    role: str
    import_name: str
    framework: str | None = None


@dataclass(frozen=True)
class CpuRule:
    distributions: tuple[str, ...]
    architecture: str
    flags: tuple[str, ...]
    since: Version
    message: str
    source: str


@dataclass(frozen=True)
class DriverFloor:
    cuda: str
    linux: str | None
    windows: str | None
    source: str


@dataclass(frozen=True)
class TorchRelease:
    torch: str
    python: SpecifierSet
    cuda: tuple[str, ...]
    pypi_default: str | None
    torchvision: str
    torchaudio: str


@dataclass(frozen=True)
class Matrix:
    packages: tuple[PackageSpec, ...]
    nvidia_prefixes: tuple[str, ...]
    nvidia_exclude: tuple[str, ...]
    cpu_rules: tuple[CpuRule, ...]
    cuda_majors: tuple[DriverFloor, ...]  # minor-version-compatibility floors per CUDA major
    cuda_toolkits: tuple[DriverFloor, ...]  # full-compatibility minimum per toolkit release
    torch_releases: tuple[TorchRelease, ...]
    torch_index_url: str
    gpu_builds: dict[str, Any]  # gpu_builds.toml as read (validated keys below)

    def package(self, name: str) -> PackageSpec | None:
        return next((p for p in self.packages if p.name == name), None)

    def toolkit_floor(self, cuda: str) -> DriverFloor | None:
        """The row for a toolkit release, matched on major.minor ("13.0.88" → "13.0")."""
        key = ".".join(cuda.split(".")[:2])
        return next((t for t in self.cuda_toolkits if t.cuda == key), None)

    def torch_release(self, version: str) -> TorchRelease | None:
        try:
            release = Version(version).release
        except InvalidVersion:
            return None
        key = f"{release[0]}.{release[1] if len(release) > 1 else 0}"
        return next((r for r in self.torch_releases if r.torch == key), None)


def _read(name: str, root: Path) -> dict[str, Any]:
    path = root / name
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MatrixError(f"{name}: {exc}") from exc


def _need(row: dict[str, Any], key: str, where: str) -> Any:
    if key not in row:
        raise MatrixError(f"{where}: missing '{key}'")
    return row[key]


def _version(text: str, where: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise MatrixError(f"{where}: '{text}' is not a version") from exc


@cache
def load(root: Path = HERE) -> Matrix:
    """Load and validate every data file. Raises MatrixError naming the file and row."""
    pk = _read("packages.toml", root)
    packages = []
    for i, row in enumerate(pk.get("package", [])):
        where = f"packages.toml package #{i + 1}"
        packages.append(
            PackageSpec(
                _need(row, "name", where),
                _need(row, "role", where),
                _need(row, "import", where),
                row.get("framework"),
            )
        )
    names = [p.name for p in packages]
    if len(names) != len(set(names)):
        raise MatrixError("packages.toml: a distribution is listed twice")
    wheels = pk.get("nvidia_wheels", {})

    cpu = _read("cpu_instructions.toml", root)
    cpu_rules = []
    for i, row in enumerate(cpu.get("rule", [])):
        where = f"cpu_instructions.toml rule #{i + 1}"
        cpu_rules.append(
            CpuRule(
                tuple(_need(row, "distributions", where)),
                _need(row, "architecture", where),
                tuple(_need(row, "flags", where)),
                _version(_need(row, "since", where), where),
                _need(row, "message", where),
                _need(row, "source", where),
            )
        )

    drv = _read("cuda_drivers.toml", root)
    default_source = "NVIDIA CUDA 13.2 Update 2 release notes, Table 3"
    majors = tuple(
        DriverFloor(
            _need(r, "cuda", "cuda_drivers.toml major"),
            r.get("mvc_min_linux"),
            r.get("mvc_min_windows"),
            _need(r, "source", f"cuda_drivers.toml major {r.get('cuda')}"),
        )
        for r in drv.get("major", [])
    )
    toolkits = []
    for row in drv.get("toolkit", []):
        where = f"cuda_drivers.toml toolkit {row.get('cuda')}"
        for key in ("linux", "windows"):
            if key in row:
                _version(row[key], where)
        toolkits.append(
            DriverFloor(
                _need(row, "cuda", where),
                row.get("linux"),
                row.get("windows"),
                row.get("source", default_source),
            )
        )
    cudas = [t.cuda for t in toolkits]
    if cudas != sorted(cudas, key=Version) or len(set(cudas)) != len(cudas):
        raise MatrixError("cuda_drivers.toml: toolkit rows must be unique and in release order")

    pt = _read("pytorch.toml", root)
    releases = []
    for row in pt.get("release", []):
        where = f"pytorch.toml release {row.get('torch')}"
        try:
            python = SpecifierSet(_need(row, "python", where))
        except InvalidSpecifier as exc:
            raise MatrixError(f"{where}: {exc}") from exc
        cuda = tuple(_need(row, "cuda", where))
        default = row.get("pypi_default")
        if default is not None and default not in cuda:
            raise MatrixError(f"{where}: pypi_default {default} is not one of its variants")
        releases.append(
            TorchRelease(
                _need(row, "torch", where),
                python,
                cuda,
                default,
                _need(row, "torchvision", where),
                _need(row, "torchaudio", where),
            )
        )
    gpu = _read("gpu_builds.toml", root)
    for key in ("tensorflow", "jax", "paddle", "onnxruntime"):
        _need(gpu, key, "gpu_builds.toml")
    for row in gpu["paddle"].get("release", []):
        where = f"gpu_builds.toml paddle release {row.get('paddle')}"
        cuda = _need(row, "cuda", where)
        _need(row, "source", where)
        if cuda != sorted(cuda, key=Version):
            raise MatrixError(f"{where}: cuda variants must be in ascending order")

    return Matrix(
        packages=tuple(packages),
        nvidia_prefixes=tuple(wheels.get("prefixes", ())),
        nvidia_exclude=tuple(wheels.get("exclude", ())),
        cpu_rules=tuple(cpu_rules),
        cuda_majors=majors,
        cuda_toolkits=tuple(toolkits),
        torch_releases=tuple(releases),
        torch_index_url=_need(pt, "index_url", "pytorch.toml"),
        gpu_builds=gpu,
    )
