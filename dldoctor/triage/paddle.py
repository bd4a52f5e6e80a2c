"""`paddle.version.show()` and `paddle.utils.run_check()`: Paddle's build and what it saw."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.triage.partial import Partial

_SHOW = re.compile(
    r"^(?P<key>full_version|major|minor|patch|rc|cuda|cudnn|nccl|xpu|xpu_xccl|xpu_xhpc|xpu_xre|cinn|tensorrt_version|cuda_archs|commit|with_mkl|with_pip_cuda_libraries):\s*(?P<value>.*)$"
)
_CAPABILITY = re.compile(
    r"device: (?P<index>\d+), GPU Compute Capability: (?P<cc>\d+\.\d+), Driver API Version: (?P<driver>[\d.]+), Runtime API Version: (?P<runtime>[\d.]+)"
)
_CUDNN = re.compile(r"device: (?P<index>\d+), cuDNN Version: (?P<cudnn>[\d.]+?)\.?\s*$")
_KEYS = {
    "cuda": "cuda_version",
    "cudnn": "cudnn_version",
    "nccl": "nccl_version",
    "cinn": "cinn_version",
}


def parse(lines: list[str]) -> Partial | None:
    show = [m for m in map(_SHOW.match, (line.strip() for line in lines)) if m]
    checked = [m for m in map(_CAPABILITY.search, lines) if m]
    ran = any(
        "PaddlePaddle is installed successfully" in line or "Running verify PaddlePaddle" in line
        for line in lines
    )
    if not (any(m.group("key") == "full_version" for m in show) or checked or ran):
        return None
    partial = Partial("paddle")
    build: dict[str, Any] = {}
    for match in show:
        key, shown = match.group("key"), match.group("value").strip()
        if key == "cuda_archs":
            archs = re.findall(r"\d+", shown)
            build["compiled_cuda_archs"] = [int(a) for a in archs]
        else:
            # paddle/version writes "False" for a build without CUDA: kept as the file says it
            build[_KEYS.get(key, key)] = shown
    if "full_version" in build:
        build["source"] = "paddle.version.show() (pasted)"
        cuda = build.get("cuda_version")
        name = "paddlepaddle" if cuda in ("False", None) else "paddlepaddle-gpu"
        partial.add_distribution(name, str(build["full_version"]))
        partial.put("packages.frameworks.paddle.build", build)
    gpus = []
    for match in checked:
        gpus.append({"index": int(match.group("index")), "compute_capability": match.group("cc")})
        partial.put("nvidia.cuda_driver_version", match.group("driver"))
    if gpus:
        partial.put("nvidia.gpus", gpus)
    return partial
