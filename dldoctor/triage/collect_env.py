"""`python -m torch.utils.collect_env` (every layout since PyTorch 1.0, Linux, Windows, macOS)."""

from __future__ import annotations

import re

from dldoctor.triage import packages, platforms
from dldoctor.triage.partial import Partial, value, version, yes_no

_FIELD = re.compile(r"^(?P<key>[A-Za-z][\w ./()?-]{1,60}?):\s*(?P<value>.*)$")
_GPU = re.compile(r"^GPU (?P<index>\d+): (?P<name>.+?)(?: \(UUID: (?P<uuid>[^)]+)\))?$")
_LIBRARY = re.compile(r"^\[(?P<tool>pip\d?|conda)\]\s+(?P<entry>.+)$")
_LIBC = re.compile(r"^(?P<name>glibc|musl)-(?P<version>[\d.]+)")
# Keys whose value may continue on the following lines (GPUs, cuDNN candidates, the CPU).
_BLOCKS = {"GPU models and configuration", "cuDNN version", "CPU"}


_START = re.compile(r"^PyTorch version:?\s+")


def parse(lines: list[str]) -> Partial | None:
    """The facts collect_env printed; None when the paste holds none of it."""
    # Some retype it: full-width colons (a CJK input method), "PyTorch version 1.5.0".
    lines = [_START.sub("PyTorch version: ", line.strip().replace("\uff1a", ":")) for line in lines]
    if not any(line.startswith("PyTorch version: ") for line in lines):
        return None
    partial = Partial("collect_env")
    fields, blocks, libraries = _fields(lines)
    torch_version = value(fields.get("pytorch version"))
    if torch_version:
        partial.add_distribution("torch", torch_version)
        build: dict[str, object] = {
            "__version__": torch_version,
            "source": "collect_env",
            "distribution": "torch",
        }
        cuda = fields.get("cuda used to build pytorch")
        if cuda is not None:
            # "None" is what torch.version.cuda says of a CPU build; "Could not collect" is unknown.
            build["cuda"] = False if cuda.strip() == "None" else version(cuda)
        rocm = fields.get("rocm used to build pytorch")
        if rocm is not None:
            build["hip"] = False if rocm.strip() in ("N/A", "None") else version(rocm)
        if build.get("hip") and build.get("cuda") is None:
            build["cuda"] = False  # a ROCm build: "N/A" is torch.version.cuda's None
        debug = yes_no(fields.get("is debug build"))
        if debug is not None:
            build["debug"] = debug
        partial.put("packages.frameworks.torch.build", build)
    nvcc = version(fields.get("cuda runtime version"))
    if nvcc and re.fullmatch(r"\d+\.\d+\.\d+", nvcc):
        # collect_env's "CUDA runtime version" is `nvcc --version` (its V number), so the
        # toolkit on PATH, not the runtime torch loads.
        partial.put("cuda.toolkits", [{"version": nvcc, "version_source": "nvcc (collect_env)"}])
    platforms.python_platform(partial, fields.get("python platform", ""))
    if value(fields.get("os")):
        platforms.os_line(partial, fields["os"])
    platforms.python_version(partial, fields.get("python version", ""))
    libc = _LIBC.match(fields.get("libc version", "").strip())
    if libc:
        partial.put("system.libc", {"name": libc.group("name"), "version": libc.group("version")})
    if not partial.get("packages.frameworks.torch.build.hip"):
        # On a ROCm build torch lists AMD GPUs there: not NVIDIA's, not NVML's.
        _gpus(partial, fields, blocks)
    _cpu(partial, blocks.get("CPU", []))
    platforms.markers_from_os(partial)
    for tool, entry in libraries:
        if tool == "conda":
            packages.conda_line(partial, entry)
        else:
            packages.pip_entry(partial, entry)
    available = yes_no(fields.get("is cuda available"))
    if available is not None and torch_version:
        partial.put("triage.imported.torch", {"version": torch_version, "gpu": available})
    return partial


def _fields(lines: list[str]) -> tuple[dict[str, str], dict[str, list[str]], list[tuple[str, str]]]:
    fields: dict[str, str] = {}
    blocks: dict[str, list[str]] = {}
    libraries: list[tuple[str, str]] = []
    current: str | None = None
    started = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("PyTorch version:"):
            started = True
        if not started:
            continue
        library = _LIBRARY.match(line)
        if library:
            libraries.append((library.group("tool"), library.group("entry").strip()))
            current = None
            continue
        if not line:
            current = None if current != "CPU" or blocks.get("CPU") else current
            continue
        field = _FIELD.match(line)
        if current is not None and (current == "CPU" or not field or _GPU.match(line)):
            blocks[current].append(line)
            continue
        if field:
            key = field.group("key").strip()
            fields.setdefault(key.lower(), field.group("value"))  # "Os:" retyped
            current = key if key in _BLOCKS else None
            if current is not None:
                blocks.setdefault(current, [])
                if field.group("value").strip():
                    blocks[current].append(field.group("value").strip())
        if line.startswith("Versions of relevant libraries"):
            current = None
    return fields, blocks, libraries


def _gpus(partial: Partial, fields: dict[str, str], blocks: dict[str, list[str]]) -> None:
    gpus = []
    for index, line in enumerate(blocks.get("GPU models and configuration", [])):
        match = _GPU.match(line)
        name = match.group("name") if match else value(line)
        if not name:
            continue
        gpu = {"index": int(match.group("index")) if match else index, "name": name}
        if match and match.group("uuid"):
            gpu["uuid"] = match.group("uuid")
        gpus.append(gpu)
    if gpus:
        # Listed by torch (the CUDA runtime), so they are the GPUs CUDA sees, every one.
        partial.put("nvidia.gpus", gpus)
        partial.put("nvidia.gpu_count", len(gpus))
    driver = version(fields.get("nvidia driver version"))
    # macOS collect_env of 2019 printed the CUDA driver's own version (1.1.0), not NVIDIA's.
    if driver and "." in driver and int(driver.split(".")[0]) >= 100:
        partial.put("nvidia.driver_version", driver)


def _cpu(partial: Partial, lines: list[str]) -> None:
    for line in lines:
        key, _, rest = line.partition(":")
        if "=" in key and not rest:  # Windows: "Name=Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz"
            key, _, rest = line.partition("=")
        key, rest = key.strip(), rest.strip()
        if key == "Flags" and rest:
            partial.put("system.cpu.flags", rest.split())
            partial.put("system.cpu.flags_source", "lscpu (pasted)")
        elif key in ("Model name", "Name") and rest:
            partial.put("system.cpu.model", rest)
        elif key == "Architecture" and rest and not rest.isdigit():
            partial.put("system.architecture", rest)
