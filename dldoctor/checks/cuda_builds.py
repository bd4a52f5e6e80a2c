"""What each installed framework was built for (CUDA, cuDNN, GPU architectures), read from Facts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix

_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)[a-z]?$")


@dataclass(frozen=True)
class CudaBuild:
    """One framework's CUDA build. ``cuda`` may be a full version ("13.0") or a major ("12")."""

    framework: str  # the key in facts.packages.frameworks ("torch")
    label: str  # what users call it ("PyTorch")
    distribution: str
    version: str
    cuda: str
    cudnn: str | None = None  # the version or major it needs, when known
    sm: tuple[str, ...] | None = None  # compute capabilities with cubins ("8.6"); None: unknown
    ptx: tuple[str, ...] = ()
    arch_source: str = ""


def _cc(tag: str) -> tuple[str, str] | None:
    """'sm_86' → ('sm', '8.6'); 'compute_90' → ('compute', '9.0'); '120' → ('sm', '12.0')."""
    text = str(tag).strip()
    if text.isdigit():
        text = f"sm_{text}"
    match = _ARCH.match(text)
    return (match.group(1), f"{match.group(2)}.{match.group(3)}") if match else None


def _arches(tags: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parsed = [p for p in (_cc(t) for t in tags) if p]
    return tuple(c for k, c in parsed if k == "sm"), tuple(c for k, c in parsed if k == "compute")


def cuda_builds(facts: Facts, matrix: Matrix) -> list[CudaBuild]:
    """Every installed framework that is a CUDA build, with what it was built for."""
    builds: list[CudaBuild] = []
    frameworks = facts.packages.get("frameworks") or {}
    torch = (frameworks.get("torch") or {}).get("build") or {}
    dist = q.installed(facts, "torch")
    if dist and torch.get("cuda"):
        cuda = str(torch["cuda"])
        arch = matrix.torch_arch(dist["version"], ".".join(cuda.split(".")[:2]))
        release = matrix.torch_release(dist["version"])
        builds.append(
            CudaBuild(
                "torch",
                "PyTorch",
                "torch",
                dist["version"],
                cuda,
                cudnn=release.cudnn.get(".".join(cuda.split(".")[:2])) if release else None,
                sm=arch.sm if arch else None,
                ptx=arch.ptx if arch else (),
                arch_source=arch.source if arch else "",
            )
        )
    tf = (frameworks.get("tensorflow") or {}).get("build") or {}
    tf_dist = next(
        (
            q.installed(facts, d["name"])
            for d in (frameworks.get("tensorflow") or {}).get("distributions", [])
            if q.canonical(d["name"]).startswith("tensorflow") and d["name"] != "tensorflow-metal"
        ),
        None,
    )
    if tf_dist and tf.get("is_cuda_build") and tf.get("cuda_version"):
        caps = tf.get("cuda_compute_capabilities")
        sm, ptx = _arches(list(caps)) if isinstance(caps, list) else (None, ())
        builds.append(
            CudaBuild(
                "tensorflow",
                "TensorFlow",
                tf_dist["name"],
                tf_dist["version"],
                str(tf["cuda_version"]),
                cudnn=str(tf.get("cudnn_version") or "") or None,
                sm=sm,
                ptx=ptx,
                arch_source="tensorflow build_info.cuda_compute_capabilities" if sm else "",
            )
        )
    paddle = (frameworks.get("paddle") or {}).get("build") or {}
    pd_dist = q.installed(facts, "paddlepaddle-gpu")
    if pd_dist and str(paddle.get("cuda_version")) not in ("False", "None", ""):
        archs = paddle.get("compiled_cuda_archs")
        sm, ptx = _arches([str(a) for a in archs]) if archs else (None, ())
        cudnn = str(paddle.get("cudnn_version") or "")
        builds.append(
            CudaBuild(
                "paddle",
                "PaddlePaddle",
                "paddlepaddle-gpu",
                pd_dist["version"],
                str(paddle["cuda_version"]),
                cudnn=None if cudnn in ("False", "None", "") else cudnn,
                sm=sm,
                ptx=ptx,
                arch_source="paddle.version.cuda_archs()" if sm else "",
            )
        )
    for plugin in ((frameworks.get("jax") or {}).get("build") or {}).get("plugins") or []:
        if (
            plugin.get("backend") == "cuda"
            and plugin.get("major")
            and str(plugin.get("name", "")).endswith("-plugin")
        ):
            builds.append(
                CudaBuild(
                    "jax", "JAX", plugin["name"], plugin.get("version") or "?", str(plugin["major"])
                )
            )
    jax_frame = frameworks.get("jax") or {}
    jaxlib = q.jaxlib_cuda(jax_frame)
    if jaxlib and not any(b.framework == "jax" for b in builds):
        # Before the CUDA plugins, jaxlib was the CUDA build: its local label says which.
        dist = q.installed(facts, "jaxlib") or {}
        builds.append(CudaBuild("jax", "JAX", "jaxlib", str(dist.get("version") or "?"), *jaxlib))
    ort = q.installed(facts, "onnxruntime-gpu")
    if ort:
        row = matrix.rows_matching("onnxruntime", "onnxruntime", ort["version"])
        ort_build = (frameworks.get("onnxruntime") or {}).get("build") or {}
        ort_cuda = ort_build.get("cuda_version") or (row or {}).get("cuda")
        if ort_cuda:
            builds.append(
                CudaBuild(
                    "onnxruntime",
                    "ONNX Runtime",
                    "onnxruntime-gpu",
                    ort["version"],
                    str(ort_cuda),
                    cudnn=(row or {}).get("cudnn"),
                )
            )
    return builds
