"""Every published GPU build of a framework this machine could install, from the matrix alone.

A ``Build`` is one release line built for one CUDA: what to install, from which index, which
driver runs it (fully, and under minor-version compatibility), and the NVIDIA wheels it pins.
The candidates come newest first, the variant a release recommends first; choosing among them
is ``fixes.resolve``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import floor
from dldoctor.matrix import Matrix, minor_of
from dldoctor.matrix.rules import CUBIN, coverage

LABELS = {
    "torch": "torch",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "paddle": "PaddlePaddle",
    "onnxruntime": "ONNX Runtime",
}
# The CPU packages a GPU build replaces (uninstalled first: both would own the same modules).
_CPU = {
    "tensorflow": ("tensorflow-cpu", "tensorflow-intel"),
    "paddle": ("paddlepaddle",),
    "onnxruntime": ("onnxruntime",),
}


@dataclass(frozen=True)
class Build:
    framework: str  # "torch", "tensorflow", "jax", "paddle", "onnxruntime"
    release: str  # the release line ("2.13"), or the version range the row covers
    cuda: str  # the CUDA it is built for: "13.0", or only the major ("12") where that is all
    requirements: tuple[str, ...]  # pinned: "torch==2.13.0+cu130", "tensorflow[and-cuda]==2.21.*"
    index_url: str | None = None  # the framework's own wheel index
    remove: tuple[str, ...] = ()
    driver_full: str | None = None  # the driver of its CUDA release: every feature
    driver_mvc: str | None = None  # the first driver of its CUDA major: runs, with limits
    code: str | None = None  # "cubin", "ptx", or None (unknown) for this machine's GPUs
    pins: dict[str, str] = field(default_factory=dict)  # NVIDIA wheel → specifier it requires
    cudnn_major: int | None = None  # the cuDNN major it loads, where known

    @property
    def label(self) -> str:
        return f"{LABELS[self.framework]} {self.release}"


def _python(facts: Facts) -> Version | None:
    return q.version_of(facts.python.get("version"))


def _fits_python(facts: Facts, spec: str | None) -> bool:
    python = _python(facts)
    if python is None or not spec:
        return True  # unknown judges nothing
    try:
        return SpecifierSet(spec).contains(Version(python.base_version))
    except InvalidSpecifier:
        return True


def _ccs(facts: Facts) -> list[str]:
    return [str(g["compute_capability"]) for g in q.gpus(facts) if g.get("compute_capability")]


def _code(facts: Facts, sm: tuple[str, ...], ptx: tuple[str, ...]) -> str | bool | None:
    """cubin/ptx when every GPU runs the build's code; False when one does not; None: no GPUs."""
    kinds = [coverage(sm, ptx, cc) for cc in _ccs(facts)]
    if not kinds:
        return None
    if any(k is None for k in kinds):
        return False
    return CUBIN if all(k == CUBIN for k in kinds) else "ptx"


def _floors(matrix: Matrix, cuda: str, facts: Facts) -> tuple[str | None, str | None]:
    """(full-compatibility, minor-version-compatibility) driver minimums for the judged OS."""
    mvc = floor(matrix.major_floor(cuda), facts)
    return floor(matrix.toolkit_floor(cuda) if "." in cuda else None, facts) or mvc, mvc


def _pin(spec: str) -> str:
    """A bare version ("8.9.4") means that release; an operator keeps its meaning."""
    spec = str(spec).strip()
    return spec if spec[:1] in "<>=!~" else f"=={spec}.*"


def _major(spec: str) -> int | None:
    digits = spec.lstrip("<>=!~ ").split(".")[0]
    return int(digits) if digits.isdigit() else None


def installed_release(facts: Facts, name: str) -> str | None:
    dist = q.installed(facts, name)
    return q.release_of(str(dist["version"])) if dist and dist.get("version") else None


def _requirement(name: str, installed: str | None, line: str) -> str:
    """The installed version exactly when it is of this line, else the line's newest."""
    if installed and minor_of(installed) == line:
        return f"{name}=={installed}"
    return f"{name}=={line}.*"


# The framework's own distributions: conda's copy of one is removed by conda before pip
# installs the GPU build (pip would write over files conda still lists as its own).
_OWN = {
    "torch": ("torch", "torchvision", "torchaudio"),
    "tensorflow": ("tensorflow",),
    "jax": ("jax", "jaxlib"),
    "paddle": ("paddlepaddle-gpu",),
    "onnxruntime": ("onnxruntime-gpu",),
}


def _removals(facts: Facts, framework: str) -> tuple[str, ...]:
    from dldoctor.fixes.installers import conda_owned

    cpu = [n for n in _CPU.get(framework, ()) if q.installed(facts, n)]
    conda = [n for n in _OWN[framework] if q.installed(facts, n) and conda_owned(facts, n)]
    return tuple(dict.fromkeys(cpu + conda))


def torch_builds(facts: Facts, matrix: Matrix) -> list[Build]:
    installed = q.installed(facts, "torch")
    out = []
    for release in reversed(matrix.torch_releases):
        if not _fits_python(facts, str(release.python)):
            continue
        preferred = [release.pypi_default] if release.pypi_default else []
        variants = preferred + sorted(
            (v for v in release.cuda if v not in preferred), key=Version, reverse=True
        )
        for variant in variants:
            arch = matrix.torch_arch(f"{release.torch}.0", variant)
            code = _code(facts, arch.sm, arch.ptx) if arch else None
            if code is False:
                continue  # no code for one of these GPUs
            tag = "cu" + variant.replace(".", "")
            reqs = [_torch_requirement("torch", installed, release.torch, tag)]
            for companion, line in (
                ("torchvision", release.torchvision),
                ("torchaudio", release.torchaudio),
            ):
                if q.installed(facts, companion):
                    reqs.append(
                        _torch_requirement(companion, q.installed(facts, companion), line, tag)
                    )
            cudnn = release.cudnn.get(variant)
            major = variant.split(".")[0]
            full, mvc = _floors(matrix, variant, facts)
            out.append(
                Build(
                    "torch",
                    release.torch,
                    variant,
                    tuple(reqs),
                    matrix.torch_index_url.format(variant=tag),
                    _removals(facts, "torch"),
                    full,
                    mvc,
                    code if isinstance(code, str) else None,
                    {f"nvidia-cudnn-cu{major}": f"=={cudnn}"} if cudnn else {},
                    _major(cudnn) if cudnn else None,
                )
            )
    return out


def _torch_requirement(name: str, dist: dict | None, line: str, tag: str) -> str:
    """``torch==2.13.0+cu130``: an exact local version, since ``==2.13.*`` is met by ``+cpu``."""
    version = q.release_of(str(dist["version"])) if dist else None
    if version and minor_of(version) == line:
        return f"{name}=={version}+{tag}"
    return f"{name}=={line}.*"  # another release: the index has no +cpu of it to match


def tensorflow_builds(facts: Facts, matrix: Matrix) -> list[Build]:
    table = matrix.tables["tensorflow"]
    since = Version(table["and_cuda_since"])
    pins = {p["tensorflow"]: p for p in table.get("and_cuda_pins", [])}
    installed = next(
        (
            installed_release(facts, n)
            for n in ("tensorflow", "tensorflow-cpu", "tensorflow-intel")
            if q.installed(facts, n)
        ),
        None,
    )
    out = []
    for row in reversed(table.get("release", [])):
        line = row["tensorflow"]
        if Version(line) < since or not _fits_python(facts, row.get("python")):
            continue  # before [and-cuda], a GPU TensorFlow needs a system CUDA: not a pip plan
        cuda = str(row["cuda"])
        major = cuda.split(".")[0]
        wheel_pins = {}
        for key in ("cudnn", "nccl"):
            if key in pins.get(line, {}):
                wheel_pins[f"nvidia-{key}-cu{major}"] = _pin(pins[line][key])
        cudnn = wheel_pins.get(f"nvidia-cudnn-cu{major}")
        full, mvc = _floors(matrix, cuda, facts)
        out.append(
            Build(
                "tensorflow",
                line,
                cuda,
                (_requirement("tensorflow[and-cuda]", installed, line),),
                None,
                _removals(facts, "tensorflow"),
                full,
                mvc,
                None,
                wheel_pins,
                _major(cudnn) if cudnn else _major(str(row.get("cudnn", ""))),
            )
        )
    return out


def jax_builds(facts: Facts, matrix: Matrix) -> list[Build]:
    """The installed jax with each CUDA plugin it has; not installed, the newest range of jax
    releases for this Python (the matrix lists ranges, not each jax version)."""
    table = matrix.tables["jax"]
    version = installed_release(facts, "jax")
    lines: list[tuple[str, str]] = []  # (release or range, what the requirement pins)
    if version is not None:
        lines.append((version, f"=={version}"))
    else:
        for row in reversed(table.get("release", [])):
            if _fits_python(facts, row.get("python")):
                lines.append((str(row["jax"]), str(row["jax"])))
    out = []
    for release, pin in lines:
        lowest = q.version_of(release.lstrip("<>=!~").split(",")[0])
        for plugin in sorted(table.get("plugin", []), key=lambda p: -int(p["cuda"])):
            major = str(plugin["cuda"])
            if lowest is None or lowest < Version(table[f"cuda{major}_since"]):
                continue
            if _code(facts, (), (str(plugin["min_compute_capability"]),)) is False:
                continue
            full, mvc = _floors(matrix, major, facts)
            cudnn = str(plugin.get("cudnn", ""))
            out.append(
                Build(
                    "jax",
                    release,
                    major,
                    (f"jax[cuda{major}]{pin}",),
                    None,
                    _removals(facts, "jax"),
                    full,
                    mvc,
                    None,  # whether these GPUs run cubins or PTX of the plugin is not stated
                    {f"nvidia-cudnn-cu{major}": cudnn} if cudnn else {},
                    _major(cudnn) if cudnn else None,
                )
            )
    return out


def paddle_builds(facts: Facts, matrix: Matrix) -> list[Build]:
    table = matrix.tables["paddle"]
    installed = installed_release(facts, "paddlepaddle") or installed_release(
        facts, "paddlepaddle-gpu"
    )
    out = []
    for row in reversed(table.get("release", [])):
        if not _fits_python(facts, row.get("python")):
            continue
        for variant in sorted(row["cuda"], key=Version, reverse=True):
            full, mvc = _floors(matrix, variant, facts)
            cudnn = (row.get("cudnn") or {}).get(variant)
            out.append(
                Build(
                    "paddle",
                    row["paddle"],
                    variant,
                    (_requirement("paddlepaddle-gpu", installed, row["paddle"]),),
                    table["index_url"].format(variant="cu" + variant.replace(".", "")),
                    _removals(facts, "paddle"),
                    full,
                    mvc,
                    None,
                    {},
                    _major(cudnn) if cudnn else None,
                )
            )
    return out


def onnxruntime_builds(facts: Facts, matrix: Matrix) -> list[Build]:
    table = matrix.tables["onnxruntime"]
    gpu = table["gpu_distribution"]
    installed = installed_release(facts, "onnxruntime") or installed_release(facts, gpu)
    out = []
    for row in reversed(table.get("release", [])):
        spec = SpecifierSet(row["onnxruntime"])
        try:
            inside = installed is not None and spec.contains(Version(installed))
        except InvalidVersion:
            inside = False
        requirement = f"{gpu}=={installed}" if inside else f"{gpu}{row['onnxruntime']}"
        cuda = str(row["cuda"])
        full, mvc = _floors(matrix, cuda, facts)
        out.append(
            Build(
                "onnxruntime",
                installed if inside and installed else str(row["onnxruntime"]),
                cuda,
                (requirement,),
                None,
                _removals(facts, "onnxruntime"),
                full,
                mvc,
                None,
                {},
                _major(str(row.get("cudnn", ""))),
            )
        )
    return out


CANDIDATES = {
    "torch": torch_builds,
    "tensorflow": tensorflow_builds,
    "jax": jax_builds,
    "paddle": paddle_builds,
    "onnxruntime": onnxruntime_builds,
}


def candidates(framework: str, facts: Facts, matrix: Matrix) -> list[Build]:
    return CANDIDATES[framework](facts, matrix)
