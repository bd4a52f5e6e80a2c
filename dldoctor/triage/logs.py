"""Tracebacks and framework log lines: the paragraphs of a paste that failure signatures match."""

from __future__ import annotations

import re

from dldoctor.matrix.signatures import TEXT_LIMIT, Signatures
from dldoctor.triage.partial import Partial

UNATTRIBUTED = "pasted"  # the runtime key of words no framework can be told from
MAX_TEXTS = 200  # paragraphs kept per paste: a log of thousands repeats itself
MAX_SCANNED_CHARS = (
    4 << 20
)  # of a paste's text, read by the signatures (each text costs a pass of every row)
# Where a framework's words come from: its files in a traceback, then its name in the text.
_PATHS = re.compile(
    r"[/\\](?P<key>torch|tensorflow|jax|jaxlib|jax_plugins|paddle|onnxruntime|keras)[/\\]"
)
_NAMES = (
    ("torch", re.compile(r"\b(?:torch|PyTorch|libtorch\w*|libc10\w*)\b")),
    ("tensorflow", re.compile(r"\b(?:tensorflow|TensorFlow|tf\.|libtensorflow\w*)")),
    ("jax", re.compile(r"\b(?:jax|jaxlib|JAX|XLA|xla_bridge|jax_cuda\d+_plugin)\b")),
    ("paddle", re.compile(r"\b(?:paddle|Paddle|PaddlePaddle|libpaddle\w*)\b")),
    ("onnxruntime", re.compile(r"\b(?:onnxruntime|ONNX ?Runtime)\b", re.I)),
)
_KEYS = {"jaxlib": "jax", "jax_plugins": "jax"}


def parse(blocks: list[list[str]], signatures: Signatures) -> Partial | None:
    """The paragraphs some signature matches, each attributed to the framework that said it."""
    partial = Partial("log lines")
    scanned = 0
    for block in blocks:
        for text in _chunks(block):
            scanned += len(text)
            if len(partial.texts) >= MAX_TEXTS or scanned > MAX_SCANNED_CHARS:
                break
            if signatures.scan(text):
                key = framework_of(text)
                partial.texts.append(text)
                records = partial.facts.setdefault("runtime", {}).setdefault("frameworks", {})
                record = records.setdefault(key, {"output": []})
                record["output"].append(text)
                failed = _failed_import(text, key)
                if failed and "import" not in record:
                    record["import"] = failed
    return partial if partial.texts else None


def framework_of(text: str) -> str:
    """The framework whose files or name the text shows; the innermost traceback frame wins."""
    paths = [_KEYS.get(m.group("key"), m.group("key")) for m in _PATHS.finditer(text)]
    if paths:
        return paths[-1]
    for key, pattern in _NAMES:
        if pattern.search(text):
            return key
    return UNATTRIBUTED


_RAISED = re.compile(r"^(?P<type>ImportError|ModuleNotFoundError|OSError): (?P<message>.+)$")


def _failed_import(text: str, key: str) -> dict[str, object] | None:
    """The import error a traceback through the framework's ``__init__`` ends with, if it does:
    then the framework is known not to import (words alone leave that unknown)."""
    if key == UNATTRIBUTED or "Traceback (most recent call last)" not in text:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = _RAISED.match(lines[-1]) if lines else None
    package = {"jax": "jax(?:lib)?"}.get(key, key)
    if raised is None or not re.search(rf"[/\\]{package}[/\\]__init__\.py", text):
        return None
    return {
        "module": key,
        "ok": False,
        "error": {
            "type": raised.group("type"),
            "message": raised.group("message"),
            "traceback": lines[-12:],
        },
    }


def _chunks(block: list[str]) -> list[str]:
    """A paragraph as texts the signature engine reads whole (each within its text limit)."""
    texts: list[str] = []
    current: list[str] = []
    size = 0
    for line in block:
        if current and size + len(line) + 1 > TEXT_LIMIT:
            texts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        texts.append("\n".join(current))
    return texts
