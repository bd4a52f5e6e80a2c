"""Fixes for what the runtime probes saw: reinstall a framework, pair a companion, bring a library."""

from __future__ import annotations

import re

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Fix

# Which NVIDIA wheel component ships a library: libcudnn_ops.so.9 → "cudnn" (nvidia-cudnn-cu12).
_COMPONENTS = (
    ("libcudart", "cuda-runtime"),
    ("libcublas", "cublas"),
    ("libcudnn", "cudnn"),
    ("libnccl", "nccl"),
    ("libcufft", "cufft"),
    ("libcusparse", "cusparse"),
    ("libcusolver", "cusolver"),
    ("libcurand", "curand"),
    ("libnvrtc", "cuda-nvrtc"),
    ("libnvJitLink", "nvjitlink"),
    ("libcupti", "cuda-cupti"),
    ("libnvToolsExt", "nvtx"),
    ("libcufile", "cufile"),
)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*([^;]*)")


def component(library: str) -> str | None:
    """'libcublasLt.so.12' → 'cublas'; None for a library no NVIDIA wheel ships."""
    return next((c for prefix, c in _COMPONENTS if library.startswith(prefix)), None)


def _index_for(facts: Facts, matrix: Matrix, dist: str, version: str) -> str | None:
    """A torch-family local version (+cu128, +cpu) lives on PyTorch's own index."""
    local = version.partition("+")[2]
    if local and dist in ("torch", "torchvision", "torchaudio"):
        return matrix.torch_index_url.format(variant=local)
    return None


def reinstall(facts: Facts, matrix: Matrix, dist: str, version: str, why: str) -> Fix:
    """The same distribution and build again, replacing whatever is broken in its files."""
    intent = Install(
        (f"{dist}=={version}",),
        index_url=_index_for(facts, matrix, dist, version),
        reinstall=True,
    )
    return fix(f"Reinstall {dist} {version} ({why}).", intent, facts=facts, automatic=True)


def paired_companion(facts: Facts, matrix: Matrix, companion: str) -> Fix | None:
    """torchvision/torchaudio built for the installed torch (same release pairing and build)."""
    torch = q.installed(facts, "torch")
    release = matrix.torch_release(torch["version"]) if torch else None
    if not torch or release is None:
        return None
    paired = release.torchvision if companion == "torchvision" else release.torchaudio
    local = torch["version"].partition("+")[2]
    index = matrix.torch_index_url.format(variant=local) if local else None
    return fix(
        f"Install the {companion} release paired with the installed torch {torch['version']}.",
        Install((f"{companion}=={paired}.*",), index_url=index),
        facts=facts,
        automatic=True,
    )


def numpy_below_2(facts: Facts) -> Fix:
    return fix(
        "Install NumPy 1.x, which the framework's binaries were compiled against "
        "(or upgrade the framework to a release built for NumPy 2).",
        Install(("numpy<2",)),
        facts=facts,
        automatic=True,
    )


def numpy_for_c_api(facts: Facts, matrix: Matrix, compiled: str | None) -> Fix | None:
    """The NumPy whose C API is at least the one a binary was compiled against (numpy prints
    it in hex, with or without 0x), kept within that API's major ABI (NumPy 1 before 0x12)."""
    try:
        wanted = int(compiled or "", 16)
    except ValueError:
        return None
    rows = [r for t in matrix.tables["system"].get("numpy_c_api", []) for r in t["versions"]]
    release = next(
        (r["numpy"] for r in sorted(rows, key=lambda r: r["api"]) if r["api"] >= wanted), None
    )
    if release is None:
        return None
    first_numpy2 = next((r["api"] for r in rows if r["numpy"].startswith("2.")), None)
    below = ",<2" if first_numpy2 is not None and wanted < first_numpy2 else ""
    return fix(
        f"Upgrade NumPy to {release} or newer: the framework's binaries were compiled against "
        f"NumPy's C API {compiled}, which the installed NumPy is older than.",
        Install((f"numpy>={release}{below}",)),
        facts=facts,
        automatic=True,
    )


def numpy_below_1_24(facts: Facts) -> Fix:
    return fix(
        "Install a NumPy older than 1.24, the release that removed the np.bool-style aliases "
        "the framework still uses (or a release of the framework without them, where one exists: MXNet has none).",
        Install(("numpy<1.24",)),
        facts=facts,
        automatic=True,
    )


def pinned_wheels(facts: Facts, owner: str | None, libraries: list[str]) -> Fix | None:
    """Install the NVIDIA wheels the framework itself pins for the missing libraries."""
    wanted = {c for c in (component(lib) for lib in libraries) if c}
    if not wanted or not owner:
        return None
    pins: list[str] = []
    for name, requirements in (facts.packages.get("nvidia_pins") or {}).items():
        if q.canonical(name) == q.canonical(owner):  # METADATA may spell it tensorflow_cpu
            pins = [str(r) for r in requirements]
    chosen = []
    for requirement in pins:
        match = _REQUIREMENT.match(requirement)
        if not match:
            continue
        name = q.canonical(match.group(1))
        stem = re.sub(r"-cu\d+$", "", name.removeprefix("nvidia-"))
        if stem in wanted:
            chosen.append(f"{name}{match.group(2).strip()}")
    if not chosen:
        return None
    return fix(
        f"Install the NVIDIA library wheels {owner} declares for them.",
        Install(tuple(chosen)),
        facts=facts,
        automatic=True,
    )


def jax_pieces(facts: Facts, required: str | None = None) -> Fix | None:
    """jaxlib (and the CUDA plugin) that fit the installed jax.

    With a CUDA plugin, jax's extra pins jaxlib and the plugin to jax's version. Without one,
    ``pip install jax==V`` would leave jaxlib as it is (jax does not require jaxlib): jaxlib
    itself is pinned, no newer than jax and at least what jax says it requires (``required``).
    Before 0.4, jax and jaxlib had versions of their own (jax 0.2.26 with jaxlib 0.1.75): only
    that range is right for every release.
    """
    jax = q.installed(facts, "jax")
    if not jax or not jax.get("version"):
        return None
    frame = q.framework(facts, "jax") or {}
    plugins = [
        str(d.get("name"))
        for d in frame.get("distributions") or []
        if str(d.get("name", "")).startswith("jax-cuda")
    ]
    majors = sorted({p.split("-")[1].removeprefix("cuda") for p in plugins if "-" in p})
    version = str(jax["version"])
    if majors:
        extra = f"[cuda{majors[-1]}]"
        return fix(
            f"Install jax{extra} {version} with every piece (jaxlib, the CUDA plugin) at the same "
            "version.",
            Install((f"jax{extra}=={version}",)),
            facts=facts,
        )
    wanted = (f">={required}," if required else "") + f"<={q.release_of(version)}"
    built = q.jaxlib_cuda(frame)
    if built:  # a CUDA jaxlib from before the plugins: its wheels were never on PyPI
        return Fix(
            f"Install a jaxlib{wanted} built for CUDA {built[0]} from jax's own wheel pages "
            "(https://storage.googleapis.com/jax-releases/jax_releases.html, from 2022 "
            "jax_cuda_releases.html: PyPI's jaxlib of that time is the CPU build), or a jax "
            "release that accepts the installed jaxlib."
        )
    return fix(
        f"Install the jaxlib that fits jax {version} (jaxlib{wanted}).",
        Install((f"jaxlib{wanted}",)),
        facts=facts,
    )
