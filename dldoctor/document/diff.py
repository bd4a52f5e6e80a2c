"""Two reports compared: the facts that differ, most likely to explain a behaviour first.

"Works on my laptop, fails on the cluster": the driver and the CUDA builds explain more such
differences than a kernel patch level does, so the differences are ranked by kind (RANKS), then
by name. Pure: a function of two report documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
# Kinds of fact, in the order they most often explain "same code, different behaviour".
RANKS = (
    "driver",
    "gpu",
    "cuda build",
    "cudnn",
    "framework",
    "nvidia wheel",
    "loaded library",
    "environment",
    "python",
    "package",
    "system",
    "kernel",
)
ABSENT = "—"  # shown for a side that does not have it (not installed, not set)
UNKNOWN = "?"  # a side whose report does not know it


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    a: str
    b: str

    @property
    def rank(self) -> int:
        return RANKS.index(self.kind)


@dataclass(frozen=True)
class Compared:
    differences: tuple[Difference, ...]
    only_a: tuple[tuple[str, str], ...]  # (code, title) of findings only the first report has
    only_b: tuple[tuple[str, str], ...]


def compare(a: JSON, b: JSON) -> Compared:
    """What differs between two report documents (as load_report returns them)."""
    fa, fb = _facts(a), _facts(b)
    left, right = dict(_flat(fa)), dict(_flat(fb))
    order = {key: i for i, key in enumerate([*left, *(k for k in right if k not in left)])}
    found = []
    for key in sorted(order, key=lambda k: (RANKS.index(k[0]), order[k])):
        va, vb = left.get(key, ABSENT), right.get(key, ABSENT)
        if va != vb:
            found.append(Difference(key[0], key[1], va, vb))
    codes_a, codes_b = _findings(a), _findings(b)
    return Compared(
        tuple(found),
        tuple((c, t) for c, t in codes_a.items() if c not in codes_b),
        tuple((c, t) for c, t in codes_b.items() if c not in codes_a),
    )


def _facts(document: JSON) -> JSON:
    facts = document.get("facts")
    return facts if isinstance(facts, dict) else {}


def _findings(document: JSON) -> dict[str, str]:
    found: dict[str, str] = {}
    for finding in document.get("findings") or []:
        if isinstance(finding, dict) and finding.get("severity") in ("error", "warning"):
            found.setdefault(str(finding.get("code")), str(finding.get("title")))
    return found


def _shown(value: Any) -> str:
    if value is None:
        return UNKNOWN
    if value is False:
        return ABSENT
    return str(value)


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _section(facts: JSON, name: str) -> JSON:
    section = facts.get(name)
    return section if isinstance(section, dict) else {}


def _flat(facts: JSON) -> Iterator[tuple[tuple[str, str], str]]:
    """((kind, name), value shown) for every fact the comparison reads."""
    nvidia = _section(facts, "nvidia")
    yield ("driver", "NVIDIA driver"), _shown(nvidia.get("driver_version"))
    yield ("driver", "CUDA the driver supports"), _shown(nvidia.get("cuda_driver_version"))
    yield ("driver", "NVML"), _shown(_at(nvidia, "nvml.status"))
    gpus = nvidia.get("gpus")
    if isinstance(gpus, list):
        for gpu in gpus:
            if isinstance(gpu, dict):
                cc = gpu.get("compute_capability")
                yield ("gpu", f"GPU {gpu.get('index')}"), f"{gpu.get('name')} (CC {_shown(cc)})"
    packages = _section(facts, "packages")
    listed = packages.get("frameworks")
    frameworks: JSON = listed if isinstance(listed, dict) else {}
    for key, frame in sorted(frameworks.items()):
        build = frame.get("build") if isinstance(frame, dict) else None
        build = build if isinstance(build, dict) else {}
        cuda = build.get("cuda", build.get("cuda_version"))
        if cuda is not None or build:
            yield ("cuda build", f"{key} built for CUDA"), _shown(cuda)
        cudnn = build.get("cudnn_version")
        if cudnn is not None:
            yield ("cudnn", f"{key} built for cuDNN"), _shown(cudnn)
    cuda = _section(facts, "cuda")
    for entry in _at(cuda, "libraries.cudnn") or []:
        if isinstance(entry, dict):
            yield ("cudnn", f"cuDNN at {entry.get('path')}"), _shown(entry.get("version"))
    for toolkit in cuda.get("toolkits") or []:
        if isinstance(toolkit, dict):
            yield (
                ("cuda build", f"CUDA toolkit at {toolkit.get('path')}"),
                _shown(toolkit.get("version")),
            )
    in_framework = {
        str(d.get("name")).lower()
        for frame in frameworks.values()
        if isinstance(frame, dict)
        for d in frame.get("distributions") or []
        if isinstance(d, dict)
    }
    for dist in packages.get("distributions") or []:
        if not isinstance(dist, dict) or not dist.get("name"):
            continue
        name = str(dist["name"]).lower().replace("_", "-")
        kind = (
            "cudnn" if name.startswith("nvidia-cudnn")
            else "nvidia wheel" if name.startswith("nvidia-")
            else "framework" if name in in_framework or name.replace("-", "_") in in_framework
            else "package"
        )  # fmt: skip
        yield (kind, name), _shown(dist.get("version"))
    runtime = _section(facts, "runtime")
    for key, record in sorted((runtime.get("frameworks") or {}).items()):
        for lib in (record.get("libraries") or []) if isinstance(record, dict) else []:
            if isinstance(lib, dict):
                where = f"{lib.get('path')}" + (f" {lib['version']}" if lib.get("version") else "")
                yield ("loaded library", f"{key} loaded {lib.get('name')}"), where
    env = _section(facts, "env")
    for name, value in sorted((env.get("variables") or {}).items()):
        yield ("environment", name), _shown(value)
    python = _section(facts, "python")
    yield ("python", "Python"), _shown(python.get("version"))
    yield ("python", "environment manager"), _shown(_at(python, "environment.manager"))
    system = _section(facts, "system")
    yield ("system", "OS"), _shown(_at(system, "os.distribution") or _at(system, "os.name"))
    yield ("system", "libc"), _shown(_at(system, "libc.version"))
    yield ("system", "container"), _shown(_at(system, "container.kind"))
    yield ("kernel", "kernel"), _shown(_at(system, "os.kernel"))
