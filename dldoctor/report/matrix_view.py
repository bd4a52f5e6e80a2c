"""`dldoctor matrix`: the parts of the compatibility matrix a user asks about, as tables."""

from __future__ import annotations

from typing import Any

from dldoctor.matrix import Matrix

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else "—"


def torch_tables(matrix: Matrix) -> list[Table]:
    rows = [
        [
            r.torch,
            str(r.python),
            _join(f"{c} (cuDNN {r.cudnn.get(c, '?')})" for c in r.cuda),
            r.pypi_default or "?",
            _join(r.rocm),
            r.torchvision,
            r.torchaudio,
        ]
        for r in matrix.torch_releases
    ]
    arches = [[str(a.torch), a.variant, _join(a.sm), _join(a.ptx)] for a in matrix.torch_arches]
    return [
        (
            "PyTorch releases",
            [
                "torch",
                "Python",
                "CUDA variants",
                "PyPI default",
                "ROCm",
                "torchvision",
                "torchaudio",
            ],
            rows,
        ),
        (
            "PyTorch wheel architectures (Linux x86_64)",
            ["torch", "CUDA", "cubins (sm)", "PTX"],
            arches,
        ),
    ]


def _release_table(matrix: Matrix, name: str, title: str, keys: list[str]) -> Table:
    rows = [[str(r.get(k, "—")) for k in keys] for r in matrix.tables[name].get("release", [])]
    return (title, keys, rows)


def cuda_tables(matrix: Matrix) -> list[Table]:
    majors = [[m.cuda + ".x", m.linux or "?", m.windows or "?"] for m in matrix.cuda_majors]
    toolkits = [[t.cuda, t.linux or "?", t.windows or "—"] for t in matrix.cuda_toolkits]
    return [
        ("CUDA toolkit → minimum driver", ["CUDA", "Linux", "Windows"], toolkits),
        (
            "Minor-version compatibility floor per CUDA major (no PTX JIT of newer code)",
            ["CUDA", "Linux", "Windows"],
            majors,
        ),
    ]


def gpu_tables(matrix: Matrix) -> list[Table]:
    ccs = [[c.cc, c.arch, c.examples] for c in matrix.capabilities]
    nvcc = [[cuda, _join(sm)] for cuda, sm in matrix.nvcc_targets]
    return [
        ("Compute capabilities", ["CC", "Architecture", "Examples"], ccs),
        ("Architectures each CUDA release can build for", ["CUDA from", "sm"], nvcc),
    ]


SECTIONS = {
    "torch": torch_tables,
    "tensorflow": lambda m: [
        _release_table(
            m,
            "tensorflow",
            "TensorFlow (Linux GPU builds)",
            ["tensorflow", "python", "cuda", "cudnn"],
        )
    ],
    "jax": lambda m: [
        _release_table(m, "jax", "JAX", ["jax", "python"]),
        (
            "JAX CUDA plugins",
            ["CUDA", "distribution", "min CC", "min driver (Linux)", "cuDNN"],
            [
                [
                    str(p[k])
                    for k in (
                        "cuda",
                        "distribution",
                        "min_compute_capability",
                        "min_driver_linux",
                        "cudnn",
                    )
                ]
                for p in m.tables["jax"].get("plugin", [])
            ],
        ),
    ],
    "paddle": lambda m: [
        _release_table(m, "paddle", "PaddlePaddle GPU builds", ["paddle", "python", "cuda"])
    ],
    "onnxruntime": lambda m: [
        _release_table(m, "onnxruntime", "ONNX Runtime GPU", ["onnxruntime", "cuda", "cudnn"])
    ],
    "keras": lambda m: [
        (
            "Keras 3 backend minimums",
            ["backend", "distribution", "min"],
            [[b["backend"], b["distribution"], b["min"]] for b in m.tables["keras"]["backends"]],
        )
    ],
    "retired": lambda m: [
        (
            "Retired frameworks",
            ["distribution", "last release", "note"],
            [
                [r["distribution"], r["last_release"], r["note"]]
                for r in m.tables["retired"]["framework"]
            ],
        )
    ],
    "cuda": cuda_tables,
    "gpus": gpu_tables,
    "extensions": lambda m: [
        (
            "Extension libraries (what they are built for is read from their files)",
            ["distribution", "extends", "compiled modules", "ops", "rebuilt by"],
            [
                [
                    e["name"],
                    e.get("framework") or "—",
                    _join(e.get("modules")),
                    e["ops"],
                    e["rebuild"],
                ]
                for e in m.tables["extensions"]["extension"]
            ],
        ),
        (
            "Newest host GCC each nvcc accepts",
            ["CUDA", "GCC at most"],
            [[r["cuda"], str(r["gcc_max"])] for r in m.tables["extensions"]["host_gcc"]],
        ),
        (
            "The triton each torch release pins",
            ["torch", "triton", "pinned"],
            [
                [r["torch"], r["triton"], _join(r["pinned"])]
                for r in m.tables["extensions"].get("triton", [])
            ],
        ),
    ],
}
ALIASES = {
    "pytorch": "torch",
    "tf": "tensorflow",
    "paddlepaddle": "paddle",
    "ort": "onnxruntime",
    "driver": "cuda",
    "build": "extensions",
}


def tables(matrix: Matrix, section: str | None) -> list[Table]:
    """The tables for one section, or every section's when None. KeyError for an unknown one."""
    if section is None:
        return [t for build in SECTIONS.values() for t in build(matrix)]
    return SECTIONS[ALIASES.get(section, section)](matrix)
