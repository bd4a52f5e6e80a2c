"""The compatibility matrix: versioned data files, each row with its source, validated on load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from dldoctor.matrix import parsed
from dldoctor.matrix.signatures import Signatures

if TYPE_CHECKING:
    from collections.abc import Callable

# The data lives in compat_matrix/ at the repository root, for people who know CUDA and the
# frameworks to review; the wheel carries it inside the package (pyproject's force-include).
_PACKAGE = Path(__file__).resolve().parent.parent
_DATA_DIRS = (_PACKAGE / "compat_matrix", _PACKAGE.parent / "compat_matrix")
JSON = dict[str, Any]
# Files read as validated tables (rows of plain data), beside the typed ones below.
TABLES = (
    "tensorflow",
    "jax",
    "paddle",
    "onnxruntime",
    "keras",
    "retired",
    "libraries",
    "conda",
    "system",
    "oneflow",
    "extensions",
)


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
    cudnn: dict[str, str]  # variant → cuDNN it bundles or pins (absent: unknown)
    rocm: tuple[str, ...]
    pypi_default: str | None
    torchvision: str
    torchaudio: str


@dataclass(frozen=True)
class TorchArch:
    """The architectures of the official wheels of a range of torch releases, for one variant."""

    torch: SpecifierSet
    variant: str
    sm: tuple[str, ...]  # real architectures (cubins), as compute capabilities "8.6"
    ptx: tuple[str, ...]  # PTX (JIT-compiled by the driver for newer GPUs)
    source: str


@dataclass(frozen=True)
class ComputeCapability:
    cc: str
    arch: str
    examples: str


@dataclass(frozen=True)
class Matrix:
    packages: tuple[PackageSpec, ...]
    nvidia_prefixes: tuple[str, ...]
    nvidia_exclude: tuple[str, ...]
    cpu_rules: tuple[CpuRule, ...]
    cuda_majors: tuple[DriverFloor, ...]  # minor-version-compatibility floors per CUDA major
    cuda_toolkits: tuple[DriverFloor, ...]  # full-compatibility minimum per toolkit release
    capabilities: tuple[ComputeCapability, ...]
    nvcc_targets: tuple[tuple[str, tuple[str, ...]], ...]  # (CUDA line, sm targets), ascending
    torch_releases: tuple[TorchRelease, ...]
    torch_arches: tuple[TorchArch, ...]
    torch: JSON  # pytorch.toml's file-level facts (index_url, numpy2_since, mps…)
    tables: dict[str, JSON]  # TABLES, as read and validated
    signatures: Signatures  # signatures.toml: failure words → root causes

    @property
    def torch_index_url(self) -> str:
        return str(self.torch["index_url"])

    def package(self, name: str) -> PackageSpec | None:
        return next((p for p in self.packages if p.name == name), None)

    def toolkit_floor(self, cuda: str) -> DriverFloor | None:
        """The row for a toolkit release, matched on major.minor ("13.0.88" → "13.0")."""
        key = ".".join(cuda.split(".")[:2])
        return next((t for t in self.cuda_toolkits if t.cuda == key), None)

    def major_floor(self, cuda: str) -> DriverFloor | None:
        """The minor-version-compatibility floor of a CUDA version's major ("12.4" → 12.x)."""
        major = cuda.split(".")[0]
        return next((m for m in self.cuda_majors if m.cuda == major), None)

    def capability(self, cc: str) -> ComputeCapability | None:
        return next((c for c in self.capabilities if c.cc == cc), None)

    def torch_release(self, version: str) -> TorchRelease | None:
        key = minor_of(version)
        return next((r for r in self.torch_releases if r.torch == key), None)

    def torch_arch(self, version: str, variant: str) -> TorchArch | None:
        """The architecture list of a torch release's official wheel for a CUDA variant."""
        parsed = _parse(version)
        if parsed is None:
            return None
        release = Version(parsed.base_version)
        for row in self.torch_arches:
            if row.variant == variant and row.torch.contains(release, prereleases=True):
                return row
        return None

    def row_for(self, table: str, key: str, version: str) -> JSON | None:
        """The [[release]] row of a table whose ``key`` names the release line ("2.16")."""
        wanted = minor_of(version)
        return next((r for r in self.tables[table].get("release", []) if r[key] == wanted), None)

    def rows_matching(
        self, table: str, key: str, version: str, section: str = "release"
    ) -> JSON | None:
        """The first row whose ``key`` is a version range containing ``version``."""
        parsed = _parse(version)
        if parsed is None:
            return None
        for row in self.tables[table].get(section, []):
            if SpecifierSet(row[key]).contains(Version(parsed.base_version), prereleases=True):
                return row
        return None


def minor_of(version: str) -> str:
    """'2.13.0+cpu' → '2.13'; unparsable → ''."""
    parsed = _parse(version)
    if parsed is None:
        return ""
    release = parsed.release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def _parse(version: str | None) -> Version | None:
    try:
        return Version(version)  # type: ignore[arg-type]  # None: an unknown version
    except (InvalidVersion, TypeError):
        return None


def _read(name: str, root: Path, check: Callable[[JSON], object] | None = None) -> JSON:
    try:
        return parsed.read(root / name, check)
    except MatrixError:  # the check's, naming the file and row already
        raise
    except (OSError, ValueError) as exc:  # ValueError: TOMLDecodeError, not UTF-8
        raise MatrixError(f"{name}: {exc}") from exc


def _need(row: JSON, key: str, where: str) -> Any:
    if key not in row:
        raise MatrixError(f"{where}: missing '{key}'")
    return row[key]


def _version(text: str, where: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise MatrixError(f"{where}: '{text}' is not a version") from exc


def _spec(text: str, where: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise MatrixError(f"{where}: {exc}") from exc


def _ascending(values: list[str], where: str) -> None:
    if values != sorted(values, key=lambda v: _version(v, where)) or len(set(values)) != len(
        values
    ):
        raise MatrixError(f"{where}: versions must be unique and in ascending order")


def _sourced(doc: JSON, name: str) -> None:
    """Every row of every array of tables has a source, or the file states one for all rows."""
    if "source" in doc:
        return
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            for i, row in enumerate(value):
                _need(row, "source", f"{name} {key} #{i + 1}")


def data_dir() -> Path:
    """The folder of TOML files: inside the installed package (a wheel, pipx), else the
    checkout's root beside ``dldoctor/`` (an editable install, a source tree)."""
    for candidate in _DATA_DIRS:
        if (candidate / "packages.toml").is_file():
            return candidate
    raise MatrixError(
        "the data files are missing: neither " + " nor ".join(map(str, _DATA_DIRS)) + " exists"
    )


from dldoctor.matrix import signatures  # noqa: E402  (after MatrixError and _read exist)


@cache
def load(root: Path | None = None) -> Matrix:
    """Load and validate every data file. Raises MatrixError naming the file and row."""
    root = data_dir() if root is None else root
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
    return Matrix(
        packages=tuple(packages),
        nvidia_prefixes=tuple(wheels.get("prefixes", ())),
        nvidia_exclude=tuple(wheels.get("exclude", ())),
        cpu_rules=_cpu_rules(root),
        **_drivers(root),
        **_gpus(root),
        **_torch(root),
        tables=_tables(root),
        signatures=signatures.read(root),
    )


def _cpu_rules(root: Path) -> tuple[CpuRule, ...]:
    doc = _read("cpu_instructions.toml", root)
    rules = []
    for i, row in enumerate(doc.get("rule", [])):
        where = f"cpu_instructions.toml rule #{i + 1}"
        rules.append(
            CpuRule(
                tuple(_need(row, "distributions", where)),
                _need(row, "architecture", where),
                tuple(_need(row, "flags", where)),
                _version(_need(row, "since", where), where),
                _need(row, "message", where),
                _need(row, "source", where),
            )
        )
    return tuple(rules)


def _drivers(root: Path) -> JSON:
    doc = _read("cuda_drivers.toml", root)
    default_source = "NVIDIA CUDA 13.2 Update 2 release notes, Table 3"
    majors = tuple(
        DriverFloor(
            _need(r, "cuda", "cuda_drivers.toml major"),
            r.get("mvc_min_linux"),
            r.get("mvc_min_windows"),
            _need(r, "source", f"cuda_drivers.toml major {r.get('cuda')}"),
        )
        for r in doc.get("major", [])
    )
    toolkits = []
    for row in doc.get("toolkit", []):
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
    return {"cuda_majors": majors, "cuda_toolkits": tuple(toolkits)}


def _gpus(root: Path) -> JSON:
    doc = _read("gpu_architectures.toml", root)
    ccs = tuple(
        ComputeCapability(
            _need(r, "cc", "gpu_architectures.toml cc"),
            _need(r, "arch", f"gpu_architectures.toml cc {r.get('cc')}"),
            r.get("examples", ""),
        )
        for r in doc.get("cc", [])
    )
    _ascending([c.cc for c in ccs], "gpu_architectures.toml cc")
    targets = []
    for row in doc.get("nvcc", []):
        where = f"gpu_architectures.toml nvcc {row.get('cuda')}"
        sm = list(_need(row, "sm", where))
        _ascending(sm, where)
        _need(row, "source", where)
        targets.append((_need(row, "cuda", where), tuple(sm)))
    _ascending([t[0] for t in targets], "gpu_architectures.toml nvcc")
    return {"capabilities": ccs, "nvcc_targets": tuple(targets)}


def _torch(root: Path) -> JSON:
    doc = _read("pytorch.toml", root)
    _need(doc, "index_url", "pytorch.toml")
    releases = []
    for row in doc.get("release", []):
        where = f"pytorch.toml release {row.get('torch')}"
        cuda = list(_need(row, "cuda", where))
        _ascending(cuda, where)
        default = row.get("pypi_default")
        if default is not None and default not in cuda:
            raise MatrixError(f"{where}: pypi_default {default} is not one of its variants")
        cudnn = dict(row.get("cudnn", {}))
        if not set(cudnn) <= set(cuda):
            raise MatrixError(f"{where}: cuDNN given for a variant it does not publish")
        releases.append(
            TorchRelease(
                _need(row, "torch", where),
                _spec(_need(row, "python", where), where),
                tuple(cuda),
                cudnn,
                tuple(row.get("rocm", ())),
                default,
                _need(row, "torchvision", where),
                _need(row, "torchaudio", where),
            )
        )
    _ascending([r.torch for r in releases], "pytorch.toml release")
    arches = []
    for i, row in enumerate(doc.get("arch", [])):
        where = f"pytorch.toml arch #{i + 1}"
        sm = list(_need(row, "sm", where))
        _ascending(sm, where)
        arches.append(
            TorchArch(
                _spec(_need(row, "torch", where), where),
                _need(row, "variant", where),
                tuple(sm),
                tuple(row.get("ptx", ())),
                _need(row, "source", where),
            )
        )
    facts = {k: v for k, v in doc.items() if k not in ("release", "arch")}
    return {"torch_releases": tuple(releases), "torch_arches": tuple(arches), "torch": facts}


def _tables(root: Path) -> dict[str, JSON]:
    tables = {}
    for name in TABLES:
        doc = _read(f"{name}.toml", root)
        _sourced(doc, f"{name}.toml")
        for i, row in enumerate(doc.get("release", [])):
            for key in ("python", name if name != "retired" else "distribution"):
                if key in row and any(c in str(row[key]) for c in "<>=!~"):
                    _spec(row[key], f"{name}.toml release #{i + 1}")
        tables[name] = doc
    _extensions(tables["extensions"])
    _alternatives(tables["retired"])
    return tables


# The small real calls an extension's probe child knows (probes/child/extension_probe.py).
EXTENSION_CALLS = ("torchvision-nms", "triton-kernel")


def _alternatives(doc: JSON) -> None:
    """retired.toml's alternatives: a retired framework, the use, advice, intents of known actions."""
    from dldoctor.model import ACTIONS

    retired = {str(r.get("distribution")) for r in doc.get("framework", [])}
    for row in doc.get("framework", []):
        if str(row.get("numpy_below", "2")) not in ("1.24", "2"):  # the NumPy fixes that exist
            raise MatrixError(f"retired.toml {row.get('distribution')}: numpy_below is 1.24 or 2")
    for i, row in enumerate(doc.get("alternative", [])):
        where = f"retired.toml alternative #{i + 1}"
        if _need(row, "framework", where) not in retired:
            raise MatrixError(f"{where}: {row['framework']} is not a retired framework here")
        for key in ("use", "advice"):
            _need(row, key, where)
        intents = row.get("intents", [])
        if not isinstance(intents, list) or not all(
            isinstance(x, dict) and x.get("action") in ACTIONS for x in intents
        ):
            raise MatrixError(f"{where}: intents must be tables naming a known action")


def _extensions(doc: JSON) -> None:
    """extensions.toml: known ops and rebuild kinds, unique names, label patterns that compile,
    host GCC rows in ascending CUDA order."""
    names = [_need(r, "name", "extensions.toml extension") for r in doc.get("extension", [])]
    if len(names) != len(set(names)):
        raise MatrixError("extensions.toml: an extension is listed twice")
    for i, row in enumerate(doc.get("extension", [])):
        where = f"extensions.toml extension #{i + 1} ({row['name']})"
        if row.get("ops") not in ("required", "jit", "none"):
            raise MatrixError(f"{where}: ops must be required, jit or none")
        if row.get("rebuild") not in ("pip", "source", "wheel"):
            raise MatrixError(f"{where}: rebuild must be pip, source or wheel")
        if row["rebuild"] == "source" and not str(row.get("repository", "")).startswith("https://"):
            raise MatrixError(f"{where}: a source rebuild names its https repository")
        if row.get("call") not in (None, *EXTENSION_CALLS):
            raise MatrixError(f"{where}: call must be one of {', '.join(EXTENSION_CALLS)}")
        if not re.fullmatch(r"[A-Za-z_][\w.]*", str(row.get("import", "x"))):
            raise MatrixError(f"{where}: import must be a module name")
    for i, row in enumerate(doc.get("label", [])):
        try:
            re.compile(_need(row, "pattern", f"extensions.toml label #{i + 1}"))
        except re.error as exc:
            raise MatrixError(f"extensions.toml label #{i + 1}: {exc}") from exc
    _ascending(
        [_need(r, "cuda", "extensions.toml host_gcc") for r in doc.get("host_gcc", [])],
        "extensions.toml host_gcc",
    )
    rows = doc.get("triton", [])
    _ascending(
        [_need(r, "torch", "extensions.toml triton") for r in rows], "extensions.toml triton"
    )
    for i, row in enumerate(rows):
        where = f"extensions.toml triton #{i + 1} (torch {row['torch']})"
        pins = [str(p) for p in row.get("pinned") or []]
        if not pins or any(minor_of(p) != str(_need(row, "triton", where)) for p in pins):
            raise MatrixError(f"{where}: every pinned triton must be of its triton minor")
