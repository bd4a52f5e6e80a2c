"""What one node sends rank 0: the facts nodes must share (a digest), its findings, its counts.

A digest maps a field ("framework:torch", "env:NCCL_SOCKET_IFNAME", "library:libcudnn.so.9")
to a short text, or None when the node could not know it. A field absent from a section the
node did know means "none there" (not installed, unset, not loaded): ``sections`` says which
sections were known. Pure functions of Facts and findings; nothing here touches the machine.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dldoctor.facts.model import Facts
from dldoctor.model import Finding

JSON = dict[str, Any]
PAYLOAD_VERSION = 1
MAX_PAYLOAD_BYTES = 1 << 20  # what the child may put in the store for one node
MAX_FINDINGS = 100
MAX_FIELDS = 2000
MAX_TEXT = 2048
# Variables whose differences between nodes break or slow collectives (an allowlist: the env
# section already withholds secrets, and PATH-like noise would make every node differ).
ENV_EXACT = ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "LD_PRELOAD", "NVIDIA_VISIBLE_DEVICES")
ENV_PREFIXES = ("NCCL_", "GLOO_", "UCX_", "FI_")
# What a field absent from a known section means, per section (the first part of its name).
ABSENT = {
    "framework": "not installed",
    "env": "unset",
    "library": "not loaded",
    "cudnn": "none",
    "nccl": "none",
}
_BUILD_CUDA = ("cuda", "cuda_version")


def digest(facts: Facts) -> JSON:
    """The shared facts of one node, as {"fields": {...}, "sections": [...]}."""
    fields: dict[str, str | None] = {}
    sections: list[str] = []
    nvidia = facts.nvidia
    if nvidia:
        nvml = (nvidia.get("nvml") or {}).get("status")
        none = "none" if nvml == "library_not_found" else None  # no driver at all is known
        fields["driver"] = _text(nvidia.get("driver_version")) or none
        fields["cuda-driver"] = _text(nvidia.get("cuda_driver_version")) or none
        gpus = nvidia.get("gpus")
        if isinstance(gpus, list) and (gpus or none):
            fields["gpus"] = _gpus(gpus)
    frameworks = (facts.packages or {}).get("frameworks")
    runtime = (facts.runtime or {}).get("frameworks") or {}
    if isinstance(frameworks, dict):
        sections.append("framework")
        for key, entry in sorted(frameworks.items()):
            fields[f"framework:{key}"] = _framework(entry or {}, runtime.get(key) or {})
    libraries = _loaded(runtime)
    if (facts.runtime or {}).get("ran"):
        sections.append("library")
        fields.update(libraries)
        for lib in ("cudnn", "nccl"):
            key = f"{lib}_version"
            # Known only where a probe asked (torch asks NCCL only of a CUDA build).
            if any(key in ((r or {}).get("info") or {}) for r in runtime.values()):
                sections.append(lib)
            version = _runtime_version(runtime, key)
            if version:
                fields[lib] = version
    for lib in ("cudnn", "nccl"):
        wheel = _wheel(facts, f"nvidia-{lib}-")
        if wheel and lib not in fields:
            fields[lib] = wheel
            if lib not in sections:
                sections.append(lib)
    variables = (facts.env or {}).get("variables")
    if isinstance(variables, dict):
        sections.append("env")
        for name, value in sorted(variables.items()):
            if name in ENV_EXACT or name.startswith(ENV_PREFIXES):
                fields[f"env:{name}"] = _text(value)
    python = (facts.python or {}).get("version")
    if python:
        fields["python"] = _text(python)
    return {"fields": dict(list(fields.items())[:MAX_FIELDS]), "sections": sorted(set(sections))}


def payload(
    node: int,
    host: str,
    rank: int,
    facts: Facts,
    findings: list[Finding],
    report: str | None,
    links: JSON | None = None,
) -> bytes:
    """The JSON a gatherer puts in the store for rank 0, bounded (evidence dropped first)."""
    body: JSON = {
        "version": PAYLOAD_VERSION,
        "node": node,
        "host": host,
        "rank": rank,
        "digest": digest(facts),
        "findings": [_finding(f, evidence=True) for f in findings[:MAX_FINDINGS]],
        "report": report,
        "links": links or {},
    }
    data = json.dumps(body).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        body["findings"] = [_finding(f, evidence=False) for f in findings[:MAX_FINDINGS]]
        data = json.dumps(body).encode("utf-8")
    return data[:MAX_PAYLOAD_BYTES]


def _finding(finding: Finding, evidence: bool) -> JSON:
    data = finding.to_dict()
    if not evidence:
        data["evidence"] = {}
    return data


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return str(value)[:MAX_TEXT]


def _gpus(gpus: list[Any]) -> str:
    counts: dict[str, int] = {}
    for gpu in gpus:
        name = str((gpu or {}).get("name") or "unknown GPU") if isinstance(gpu, dict) else "?"
        counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "none"
    return ", ".join(f"{n}x {name}" for name, n in sorted(counts.items()))


def _framework(entry: JSON, record: JSON) -> str | None:
    """ "2.13.0+cu128 (CUDA 12.8)", "2.13.0+cpu (CPU build)": the version and what it runs on."""
    dists = entry.get("distributions") or []
    versions = [f"{d.get('name')} {d.get('version')}" for d in dists if isinstance(d, dict)]
    if not versions:
        return None
    build = entry.get("build") or {}
    cuda = (record.get("info") or {}).get("cuda_version")
    if cuda is None:
        cuda = next((build[k] for k in _BUILD_CUDA if k in build), None)
    text = ", ".join(versions)
    cpu = build.get("is_cuda_build") is False and not build.get("is_rocm_build")
    if cpu or (cuda in (False, "False", "0") and any(k in build for k in _BUILD_CUDA)):
        return f"{text} (CPU build)"
    if cuda:
        return f"{text} (CUDA {cuda})"
    return text


def _loaded(runtime: JSON) -> dict[str, str | None]:
    """Each CUDA library the probes saw loaded, by file name, with the path it came from."""
    found: dict[str, str | None] = {}
    for record in runtime.values():
        for lib in (record or {}).get("libraries") or []:
            if isinstance(lib, dict) and lib.get("name"):
                found.setdefault(f"library:{lib['name']}", _text(lib.get("path")))
    return found


def _runtime_version(runtime: JSON, key: str) -> str | None:
    for record in runtime.values():
        value = ((record or {}).get("info") or {}).get(key)
        if value not in (None, False, 0, "0"):
            return _text(value)
    return None


def _wheel(facts: Facts, prefix: str) -> str | None:
    for wheel in (facts.cuda or {}).get("pip_libraries") or []:
        name = str((wheel or {}).get("name") or "") if isinstance(wheel, dict) else ""
        if re.sub(r"[-_.]+", "-", name.lower()).startswith(prefix):
            return _text(f"{name} {wheel.get('version')}")
    return None
