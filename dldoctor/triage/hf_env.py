"""`transformers-cli env`, `huggingface-cli env`, `diffusers-cli env`, and DeepSpeed's `ds_report`."""

from __future__ import annotations

import re

from dldoctor.triage import platforms
from dldoctor.triage.partial import Partial, value, version, yes_no

_ITEM = re.compile(r"^-\s+(?P<key>[^:]{1,80}?)\s*:\s*(?P<value>.*)$")
_GPU_FLAG = re.compile(r"^(?P<version>\S+)\s+\((?P<flag>[^)]*)\)\s*$")
# The items that name a distribution's version, as each tool words them.
_DISTRIBUTIONS = {
    "`transformers` version": "transformers",
    "`diffusers` version": "diffusers",
    "huggingface_hub version": "huggingface-hub",
    "Huggingface_hub version": "huggingface-hub",
    "Safetensors version": "safetensors",
    "Accelerate version": "accelerate",
    "PyTorch version (GPU?)": "torch",
    "Tensorflow version (GPU?)": "tensorflow",
    "Flax version (CPU?/GPU?/TPU?)": "flax",
    "Jax version": "jax",
    "JaxLib version": "jaxlib",
    "Torch": "torch",
    "Tensorflow": "tensorflow",
    "numpy": "numpy",
    "xFormers version": "xformers",
}
_IMPORTED = {"PyTorch version (GPU?)": "torch", "Tensorflow version (GPU?)": "tensorflow"}
_DS_ROW = re.compile(r"^(?P<key>[a-z][\w ./()-]*?)\s*\.{3,}\s*(?P<value>.*)$")
GIB = 1 << 30


def parse(lines: list[str]) -> list[Partial]:
    return [p for p in (_hf(lines), _ds_report(lines)) if p is not None]


def _hf(lines: list[str]) -> Partial | None:
    items = [m for m in map(_ITEM.match, (line.strip() for line in lines)) if m]
    keys = {m.group("key") for m in items}
    if not keys & {"`transformers` version", "huggingface_hub version", "`diffusers` version"}:
        return None
    tools = [
        tool
        for tool, key in (
            ("transformers-cli env", "`transformers` version"),
            ("diffusers-cli env", "`diffusers` version"),
            ("huggingface-cli env", "huggingface_hub version"),
        )
        if key in keys
    ]
    partial = Partial(" + ".join(tools))
    for match in items:
        key, shown = match.group("key"), match.group("value").strip()
        if key == "Platform":
            platforms.python_platform(partial, shown)
        elif key == "Python version":
            platforms.python_version(partial, shown)
        elif key in _DISTRIBUTIONS:
            flagged = _GPU_FLAG.match(shown)
            installed = flagged.group("version") if flagged else shown
            if value(installed) and installed != "not installed" and version(installed):
                partial.add_distribution(_DISTRIBUTIONS[key], installed)
                framework = _IMPORTED.get(key)
                if framework and flagged:
                    # It imported, and said whether it sees a GPU (torch.cuda.is_available()).
                    seen = {"version": installed, "gpu": yes_no(flagged.group("flag"))}
                    partial.put(f"triage.imported.{framework}", seen)
    platforms.markers_from_os(partial)
    return partial


def _ds_report(lines: list[str]) -> Partial | None:
    if not any("DeepSpeed general environment info" in line for line in lines):
        return None
    partial = Partial("ds_report")
    rows: dict[str, str] = {}
    for line in lines:
        match = _DS_ROW.match(line.strip())
        if match:
            rows.setdefault(match.group("key").strip(), match.group("value").strip())
    torch = value(rows.get("torch version"))
    if torch:
        partial.add_distribution("torch", torch)
        build: dict[str, object] = {"__version__": torch, "source": "ds_report (pasted)"}
        cuda = rows.get("torch cuda version")
        if cuda is not None:
            build["cuda"] = False if cuda.strip() == "None" else version(cuda)
        hip = rows.get("torch hip version")
        if hip is not None:
            build["hip"] = False if hip.strip() == "None" else version(hip)
        partial.put("packages.frameworks.torch.build", build)
    deepspeed = version((rows.get("deepspeed info") or "").split(",")[0])
    if deepspeed:
        partial.add_distribution("deepspeed", deepspeed)
    shm = re.match(r"^([\d.]+)\s*GB$", rows.get("shared memory (/dev/shm) size", ""))
    if shm:  # ds_report divides statvfs's bytes by 1024**3
        partial.put("system.shm.total_bytes", int(float(shm.group(1)) * GIB))
        partial.put("system.shm.path", "/dev/shm")
    return partial
