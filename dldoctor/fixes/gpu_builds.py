"""Fixes that replace a framework's CPU-only build with the GPU build this machine's driver runs."""

from __future__ import annotations

from packaging.version import Version

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import floor
from dldoctor.fixes.installers import Install, fix
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import Matrix
from dldoctor.model import Fix, Intent


def driver_cuda(facts: Facts) -> Version | None:
    """The newest CUDA the loaded driver supports (NVML's "CUDA Version"), if known."""
    return q.version_of(facts.nvidia.get("cuda_driver_version"))


def pick_variant(
    variants: tuple[str, ...] | list[str], facts: Facts, default: str | None
) -> str | None:
    """The newest CUDA variant the driver fully supports; without a driver, the default one.

    None means the driver is too old for every variant.
    """
    supported = driver_cuda(facts)
    if supported is None:
        return default or (variants[-1] if variants else None)
    fitting = [v for v in variants if Version(v) <= supported]
    return max(fitting, key=Version) if fitting else None


def driver_first(facts: Facts, matrix: Matrix, cuda: str, what: str) -> str:
    """ "Upgrade the driver first" when the loaded one is older than CUDA ``cuda``'s major needs.

    The floor is the major's minor-version-compatibility minimum: builds of any 12.x run on a
    525 driver (with a limited feature set), not only on the driver of their exact minor.
    """
    driver = q.version_of(q.driver_version(facts))
    major = cuda.split(".")[0]
    minimum = floor(matrix.major_floor(major), facts)
    if driver is None or not minimum or driver >= Version(minimum):
        return ""
    return f"First upgrade the NVIDIA driver to {minimum} or newer ({what} uses CUDA {major}). "


def mvc_floor(matrix: Matrix, cuda: str, facts: Facts) -> str | None:
    """The first driver of CUDA ``cuda``'s major (minor-version compatibility), for the OS."""
    return floor(matrix.major_floor(cuda), facts)


def full_floor(matrix: Matrix, cuda: str, facts: Facts) -> str | None:
    """The driver CUDA ``cuda`` shipped with (every feature), for the OS; the major's if unknown."""
    row = matrix.toolkit_floor(cuda) if "." in cuda else None
    return floor(row, facts) or mvc_floor(matrix, cuda, facts)


def needs_driver(minimum: str | None, framework: str) -> tuple[Intent, ...]:
    """The intent of a fix that only a newer driver can carry out."""
    return (Intent(action="driver", driver=minimum, framework=framework),)


def _tag(variant: str) -> str:
    return "cu" + variant.replace(".", "")


def _too_old(
    name: str, version: str, variants: tuple[str, ...] | list[str], facts: Facts, matrix: Matrix
) -> Fix:
    lowest = min(variants, key=Version)
    minimum = floor(matrix.toolkit_floor(lowest), facts)
    target = f" to {minimum} or newer (CUDA {lowest})" if minimum else ""
    return Fix(
        f"The driver supports CUDA {facts.nvidia.get('cuda_driver_version')}, older than every CUDA build of {name} "
        f"{version} ({', '.join(variants)}): upgrade the NVIDIA driver{target}, "
        f"or install an older {name}.",
        intents=needs_driver(minimum, "paddle" if "paddle" in name else name),
    )


def torch_gpu_build(facts: Facts, matrix: Matrix) -> Fix | None:
    return torch_build(facts, matrix, "the published build this driver and GPU run")


def torch_build_for_driver(facts: Facts, matrix: Matrix) -> Fix | None:
    return torch_build(facts, matrix, "one this driver runs")


def tensorflow_gpu_build(facts: Facts, matrix: Matrix) -> Fix | None:
    frame = q.framework(facts, "tensorflow") or {}
    names = [q.canonical(d["name"]) for d in frame.get("distributions", [])]
    main = next((n for n in names if n.startswith("tensorflow") and n != "tensorflow-metal"), None)
    dist = q.installed(facts, main) if main else None
    if not dist:
        return None
    version = q.release_of(dist["version"])
    rules = matrix.tables["tensorflow"]
    since = rules["and_cuda_since"]
    parsed = q.version_of(version)
    if parsed is not None and parsed < Version(since):
        return Fix(f"Upgrade to TensorFlow {since} or newer, then install tensorflow[and-cuda].")
    remove = tuple(n for n in names if n in ("tensorflow-cpu", "tensorflow-intel", "tensorflow"))
    row = matrix.row_for("tensorflow", "tensorflow", version)
    cuda = row["cuda"] if row else None
    intent = Install(
        (f"tensorflow[and-cuda]=={version}",),
        remove_first=remove,
        framework="tensorflow",
        cuda=cuda,
        driver=mvc_floor(matrix, cuda, facts) if cuda else None,
    )
    first = (
        driver_first(facts, matrix, row["cuda"], f"TensorFlow {row['tensorflow']}") if row else ""
    )
    return fix(
        f"{first}Replace {main} with the CUDA build: tensorflow[and-cuda] {version} (Linux only).",
        intent,
        facts,
    )


def jax_gpu_build(facts: Facts, matrix: Matrix) -> Fix | None:
    dist = q.installed(facts, "jax")
    if not dist:
        return None
    version = q.release_of(dist["version"])
    rules = matrix.tables["jax"]
    if rules.get("linux_only") and (facts.system.get("os") or {}).get("name") == "Windows":
        return Fix(
            "JAX publishes CUDA builds for Linux only: native Windows gets the CPU jaxlib. Use "
            'the GPU from WSL2, with the Linux build inside it (`pip install -U "jax[cuda12]"`).'
        )
    parsed = q.version_of(version) or Version("0")
    if parsed < Version(rules["cuda12_since"]):  # before the jax[cudaNN] extras and plugins
        version = f">={rules['cuda12_since']}"
    supported = driver_cuda(facts)
    cuda13 = parsed >= Version(rules["cuda13_since"]) and (
        supported is None or supported >= Version("13.0")
    )
    extra = "cuda13" if cuda13 else "cuda12"
    major = extra[4:]
    pin = version if version.startswith(">=") else f"=={version}"
    intent = Install(
        (f"jax[{extra}]{pin}",),
        framework="jax",
        cuda=major,
        driver=mvc_floor(matrix, major, facts),
    )
    first = driver_first(facts, matrix, major, f"jax[{extra}]")
    if pin != f"=={version}":
        what = f"Upgrade jax to {version[2:]} or newer with its CUDA {major} plugin (jax[{extra}]): the installed release predates the plugins."
        return fix(f"{first}{what}", intent, facts)
    return fix(f"{first}Install the CUDA {major} plugin for jax {version}.", intent, facts)


def paddle_gpu_build(facts: Facts, matrix: Matrix) -> Fix | None:
    dist = q.installed(facts, "paddlepaddle")
    if not dist:
        return None
    version = q.release_of(dist["version"])
    row = matrix.row_for("paddle", "paddle", version)
    if row is None:
        return Fix(f"Install paddlepaddle-gpu {version} from PaddlePaddle's own wheel index.")
    variant = pick_variant(row["cuda"], facts, row["cuda"][-1])
    if variant is None:
        return _too_old("paddlepaddle-gpu", version, row["cuda"], facts, matrix)
    url = matrix.tables["paddle"]["index_url"].format(variant=_tag(variant))
    intent = Install(
        (f"paddlepaddle-gpu=={version}",),
        index_url=url,
        remove_first=("paddlepaddle",),
        framework="paddle",
        cuda=variant,
        driver=full_floor(matrix, variant, facts),
    )
    return fix(
        f"Replace paddlepaddle with paddlepaddle-gpu {version} built for CUDA {variant}.",
        intent,
        facts,
    )


def onnxruntime_gpu_build(facts: Facts, matrix: Matrix) -> Fix | None:
    dist = q.installed(facts, "onnxruntime")
    if not dist:
        return None
    version = q.release_of(dist["version"])
    rules = matrix.tables["onnxruntime"]
    gpu = rules["gpu_distribution"]
    parsed = q.version_of(version)
    cuda12 = parsed is not None and parsed >= Version(rules["cuda12_default_since"])
    row = matrix.rows_matching("onnxruntime", "onnxruntime", version)
    cuda = "12" if cuda12 else (row["cuda"] if row else None)
    intent = Install(
        (f"{gpu}=={version}",),
        remove_first=("onnxruntime",),
        framework="onnxruntime",
        cuda=cuda,
        driver=mvc_floor(matrix, cuda, facts) if cuda else None,
    )
    first = driver_first(facts, matrix, "12", gpu) if cuda12 else ""
    return fix(f"{first}Replace onnxruntime with {gpu} {version}.", intent, facts)


def onnxruntime_for_cuda(facts: Facts, matrix: Matrix, major: str) -> Fix | None:
    """onnxruntime-gpu built for CUDA ``major``: the installed release from the index its build
    for that major lives on, or the first release whose PyPI build it is."""
    rules = matrix.tables["onnxruntime"]
    gpu = rules["gpu_distribution"]
    dist = q.installed(facts, gpu)
    version = q.release_of(dist["version"]) if dist and dist.get("version") else None
    if not version:
        return None
    where = matrix.rows_matching("onnxruntime", "onnxruntime", version, section="cuda_index")
    if where and where["cuda"] == major:
        intent = Install(
            (f"{gpu}=={version}",),
            extra_index_url=where["index_url"],
            reinstall=True,
            framework="onnxruntime",
            cuda=major,
            driver=mvc_floor(matrix, major, facts),
        )
        return fix(
            f"Install the CUDA {major} build of {gpu} {version}: the one on PyPI is built for "
            f"another CUDA major; the CUDA {major} build lives on its own index.",
            intent,
            facts,
            notes=f"Source: {where['source']}",
        )
    since = rules["cuda12_default_since"]
    parsed = q.version_of(version)
    if major == "12" and parsed is not None and parsed < Version(since):
        intent = Install(
            (f"{gpu}>={since}",),
            framework="onnxruntime",
            cuda=major,
            driver=mvc_floor(matrix, major, facts),
        )
        return fix(
            f"Upgrade {gpu} to {since} or newer: its PyPI build is for CUDA 12.", intent, facts
        )
    return None
