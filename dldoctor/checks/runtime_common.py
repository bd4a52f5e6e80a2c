"""What the runtime checks ask of facts.runtime: the probed records and the causes their texts show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dldoctor.checks.registry import NotApplicable
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.matrix.signatures import Match

JSON = dict[str, Any]
LABELS = {
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "paddle": "PaddlePaddle",
    "keras": "Keras",
    "onnxruntime": "ONNX Runtime",
    "mindspore": "MindSpore",
    "litert": "LiteRT",
    "mxnet": "MXNet",
    "tensorrt": "TensorRT",
}
# The deployment chains' tests (probes/child/deploy.py), judged by DD620 alone.
DEPLOYMENT_TESTS = ("onnx-export", "tensorrt-engine", "tflite-convert")


@dataclass(frozen=True)
class Said:
    """A signature one of a framework's recorded texts shows, and where it was recorded."""

    where: str
    text: str
    match: Match

    @property
    def cause(self) -> str:
        return self.match.cause


def said(record: JSON, matrix: Matrix) -> list[Said]:
    """Every signature in every error, warning and output line the probe recorded."""
    return [
        Said(where, text, match)
        for where, text in texts(record)
        for match in matrix.signatures.scan(text)
    ]


def cause(text: str | None, matrix: Matrix) -> str | None:
    """The cause the first signature ``text`` shows proves ("missing-library"…), or None."""
    found = matrix.signatures.scan(text) if text else []
    return found[0].cause if found else None


def missing_libraries(seen: list[Said]) -> list[str]:
    """The libraries named by missing-library signatures, in order, once each."""
    found = [s.match.groups["library"] for s in seen if "library" in s.match.groups]
    dlerror = [s.match.groups.get("dlerror", "") for s in seen]
    found += [m for text in dlerror for m in re.findall(r"(lib[\w+-]+?\.so(?:\.\d+)*)", text)]
    return sorted(set(found), key=found.index)


def probed(facts: Facts) -> dict[str, JSON]:
    """The runtime record of every probed framework; NotApplicable when no probe ran."""
    runtime = facts.runtime or {}
    if not runtime:
        raise NotApplicable("no runtime facts (a report written before runtime probes existed)")
    if not runtime.get("ran"):
        raise NotApplicable(str(runtime.get("reason") or "runtime probes did not run"))
    records = runtime.get("frameworks") or {}
    # A probe the user interrupted saw part of the story: it judges nothing (unknown, not healthy).
    return {
        k: v for k, v in records.items() if isinstance(v, dict) and v.get("status") != "interrupted"
    }


def label(key: str) -> str:
    return LABELS.get(key, key)


def error_text(error: Any) -> str:
    """'ImportError: libcudart.so.12: cannot open…' from a recorded error."""
    if not isinstance(error, dict):
        return ""
    kind, message = error.get("type") or "Error", str(error.get("message") or "").strip()
    return f"{kind}: {message}" if message else str(kind)


def first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def texts(record: JSON) -> Iterator[tuple[str, str]]:
    """(where, text) for everything a framework said: errors, warnings, logged output."""
    imported = record.get("import") or {}
    if imported.get("error"):
        yield "import", error_text(imported["error"])
    # What the import and each smoke test printed, one block each: a message wrapped over
    # lines (NumPy's ABI warning) is matched whole.
    printed = [str(x) for x in (imported.get("warnings") or []) + (imported.get("output") or [])]
    if printed:
        yield "import output", "\n".join(printed)
    for name, companion in (record.get("companions") or {}).items():
        if isinstance(companion, dict) and companion.get("error"):
            yield f"import {name}", error_text(companion["error"])
    for key, value in (record.get("info_errors") or {}).items():
        yield key, str(value)
    info = record.get("info") or {}
    for key in ("cuda_init_error", "gpu_error"):
        if isinstance(info.get(key), str):
            yield key, info[key]
    for kind, said in (record.get("device_errors") or {}).items():  # schema 1.3
        if isinstance(said, dict) and isinstance(said.get("error"), str):
            yield f"{kind} device", said["error"]
    for platform, value in (info.get("backend_errors") or {}).items():
        if platform in ("cuda", "rocm", "gpu"):  # every jax tries TPU; that error is noise
            yield f"{platform} backend", str(value)
    for name, loaded in (info.get("providers_loaded") or {}).items():
        if isinstance(loaded, dict) and not loaded.get("loaded"):
            yield name, "\n".join(str(x) for x in loaded.get("log") or [])
    for smoke in record.get("smoke") or []:
        if deployment(smoke):  # another tool's words (ONNX Runtime, TensorRT): DD620 reads them
            continue
        where = f"{smoke.get('test')} on {smoke.get('device')}"
        if smoke.get("error"):
            yield where, error_text(smoke["error"])
        if smoke.get("output"):
            yield f"{where} output", "\n".join(str(x) for x in smoke["output"])
    for key in ("warnings", "output"):
        for line in record.get(key) or []:
            yield key, str(line)
    for line in imported.get("warnings") or []:
        yield "import warnings", str(line)
    for line in imported.get("output") or []:
        yield "import output", str(line)
    if record.get("status") in ("crash", "timeout"):
        for line in (record.get("process") or {}).get("output_tail") or []:
            yield "last output", str(line)


def deployment(smoke: Any) -> bool:
    """A deployment chain's smoke test (torch → ONNX → ONNX Runtime…): ``chain`` names it (a
    skipped one has only its test's name)."""
    if not isinstance(smoke, dict):
        return False
    return isinstance(smoke.get("chain"), str) or smoke.get("test") in DEPLOYMENT_TESTS


def with_cause(record: JSON, wanted: str, matrix: Matrix) -> list[tuple[str, str]]:
    return [(s.where, s.text) for s in said(record, matrix) if s.cause == wanted]


def distribution(facts: Facts, key: str) -> JSON | None:
    """The framework's main installed distribution (torch, tensorflow-cpu, paddlepaddle-gpu…)."""
    frame = q.framework(facts, key) or {}
    for dist in frame.get("distributions") or []:
        name = q.canonical(str(dist.get("name", "")))
        if name.startswith(("jax-", "tf-", "tensorflow-metal", "torchvision", "torchaudio")):
            continue
        if name == "jaxlib":
            continue
        return q.installed(facts, name) or {"name": name, "version": dist.get("version")}
    return None


def version_label(facts: Facts, key: str, record: JSON) -> str:
    imported = record.get("import") or {}
    dist = distribution(facts, key) or {}
    version = imported.get("version") or dist.get("version")
    return f"{label(key)} {version}" if version else label(key)


def accelerators(record: JSON) -> list[JSON]:
    """The accelerator devices a framework listed (anything but the CPU)."""
    return [
        d
        for d in record.get("devices") or []
        if isinstance(d, dict) and d.get("kind") not in ("cpu", "backend default")
    ]
