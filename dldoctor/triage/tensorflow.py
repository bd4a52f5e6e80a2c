"""TensorFlow's `tf_env_collect.sh` text and `tf.sysconfig.get_build_info()` (a dict or JSON)."""

from __future__ import annotations

import ast
import json
import re

from dldoctor.triage import platforms
from dldoctor.triage.partial import Partial

_SECTION = re.compile(r"^== (?P<name>.+?) =+\s*$")
_PIP_ROW = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]*)\s+(?P<version>\d[\w.+-]*)\s*$")
_TF_VERSION = re.compile(r"^tf\.version\.VERSION\s*=\s*(?P<version>\S+)")
_BUILD_INFO = re.compile(r"OrderedDict\(\[[^\n]*\]\)|\{[^{}]*\}")
MAX_BUILD_INFO_CHARS = 8192


def parse(lines: list[str]) -> Partial | None:
    partial = Partial("tensorflow")
    sections = _sections(lines)
    for row in sections.get("check pips", []):
        match = _PIP_ROW.match(row.strip())
        if match:
            partial.add_distribution(match.group("name"), match.group("version"))
    for row in sections.get("tensorflow import", []):
        match = _TF_VERSION.match(row.strip())
        if match and not partial.get("packages.distributions"):
            partial.add_distribution("tensorflow", match.group("version"))
    if not partial.get("packages.distributions"):
        shown = _printed_version(lines)
        if shown:
            partial.add_distribution("tensorflow", shown)
    for row in sections.get("check python", []):
        if row.startswith("python version:"):
            platforms.python_version(partial, row.partition(":")[2])
    for row in sections.get("check os platform", []):
        key, _, rest = row.partition(":")
        if key.strip() == "os platform":
            platforms.python_platform(partial, rest.strip())
    docker = sections.get("are we in docker")
    if docker:
        answer = docker[0].strip().lower()
        if answer in ("yes", "no"):
            partial.put("system.container.kind", "docker" if answer == "yes" else False)
    build = _build_info("\n".join(lines))
    if build:
        partial.put("packages.frameworks.tensorflow.build", build)
    platforms.markers_from_os(partial)
    return partial if partial.facts else None


_ASKED = re.compile(r"(?:print\()?tf\.(?:__version__|version\.VERSION)\)?\s*$")
_ANSWER = re.compile(r"^'?(?P<version>\d+\.\d+(?:\.\d+)?(?:[\w.+-]*))'?\s*$")


def _printed_version(lines: list[str]) -> str | None:
    """A REPL's ">>> tf.__version__" and the line after it ("'2.10.1'")."""
    for asked, answer in zip(lines, lines[1:]):
        if _ASKED.search(asked.strip()):
            match = _ANSWER.match(answer.strip())
            if match:
                return match.group("version")
    return None


def _sections(lines: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        match = _SECTION.match(line.strip())
        if match:
            current = sections.setdefault(match.group("name").strip(), [])
        elif current is not None and line.strip():
            current.append(line)
    return sections


def _build_info(text: str) -> dict[str, object] | None:
    """The build-info mapping as Python or JSON prints it; literals only, never evaluated code."""
    at = text.find("is_cuda_build")
    if at < 0:
        return None
    # Only the window around the key is searched: a hostile paste cannot make this quadratic.
    start = max(0, at - MAX_BUILD_INFO_CHARS)
    window = text[start : at + MAX_BUILD_INFO_CHARS]
    match = next(
        (m for m in _BUILD_INFO.finditer(window) if m.start() <= at - start < m.end()), None
    )
    if match is None:
        return None
    shown = match.group(0)
    try:
        if shown.startswith("OrderedDict("):
            pairs = ast.literal_eval(shown[len("OrderedDict(") : -1])
            data = dict(pairs)
        elif '"is_cuda_build"' in shown:
            data = json.loads(shown)
        else:
            data = ast.literal_eval(shown)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    build: dict[str, object] = {"source": "tf.sysconfig.get_build_info() (pasted)"}
    for key in ("is_cuda_build", "is_rocm_build", "is_tensorrt_build"):
        if isinstance(data.get(key), bool):
            build[key] = data[key]
    for key in ("cuda_version", "cudnn_version"):
        if isinstance(data.get(key), str):
            # Linux prints "12.3"/"8"; Windows builds "64_112"/"64_8" (the DLL suffix)
            raw = data[key]
            build[key] = _dll_version(raw) if raw.startswith("64_") else raw
    caps = data.get("cuda_compute_capabilities")
    if isinstance(caps, list) and all(isinstance(c, str) for c in caps):
        build["cuda_compute_capabilities"] = caps
    return build


def _dll_version(raw: str) -> str:
    digits = raw[3:]
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else digits
