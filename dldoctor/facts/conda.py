"""A conda environment's packages, read from its conda-meta/*.json records (no conda, no import).

Each record is bounded in size and checked field by field: a hostile or truncated JSON file
costs its own details (kept from its file name, ``{name}-{version}-{build}.json``), never the
section. The CUDA facts a package carries are read from its build string
(``py3.9_cuda11.8_cudnn8.7.0_0``, ``cuda112py310he33e0d6_200``, ``cpu_py310h02c325b_0``) and its
dependencies (``pytorch-cuda >=11.8,<11.9``, ``pytorch-mutex 1.0 cpu``, ``cudatoolkit >=11.2,<12``).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import Any

from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import resolve

JSON = dict[str, Any]

MAX_RECORDS = 5000  # a large Anaconda base has ~600
MAX_RECORD_BYTES = 64 << 20  # cudatoolkit's record, every path listed, is ~2 MB
MAX_LIST = 200  # depends / constrains / track_features entries kept per package
MAX_TEXT = 300  # characters kept of one string field
MAX_KEPT_FILES = 400  # library and metadata paths kept per package
# Dependencies whose version says which CUDA or CUDA library a package needs.
CUDA_DEPENDS = ("cudatoolkit", "cuda-version", "pytorch-cuda", "cudnn", "nccl", "cuda-cudart")
_CUDA_TOKEN = re.compile(r"^(?:py\d*)?cu(?:da)?(\d+)(?:\.(\d+))?")
_CUDNN_TOKEN = re.compile(r"cudnn(\d+(?:\.\d+)*)")
_DIST_INFO = re.compile(r"(?:^|/)([^/]+\.(?:dist|egg)-info)(?:/|$)")
_LIBRARY = re.compile(r"^(?:lib|lib64|Library/bin)/[^/]*\.(?:so(?:\.[0-9.]+)?|dll)$")


def gather_conda(host: Host, prefix: str | None) -> JSON | None:
    """The ``packages.conda`` section for the environment at ``prefix``; None when not conda."""
    if not prefix:
        return None
    meta = posixpath.join(prefix, "conda-meta")
    real = host.path(resolve(host, meta))
    if not real.is_dir():
        return None
    errors: list[str] = []
    try:
        names = sorted(n for n in os.listdir(real) if n.endswith(".json"))
    except OSError as exc:
        return {"prefix": prefix, "packages": [], "errors": [f"conda-meta: {exc.strerror or exc}"]}
    if len(names) > MAX_RECORDS:
        errors.append(f"conda-meta has {len(names)} records; the first {MAX_RECORDS} were read")
        names = names[:MAX_RECORDS]
    packages = [_record(real / name, name, errors) for name in names]
    return {"prefix": prefix, "packages": packages, "errors": errors}


def _record(path: Any, filename: str, errors: list[str]) -> JSON:
    name, version, build = _from_filename(filename)
    data: Any = None
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
        if len(raw) > MAX_RECORD_BYTES:
            errors.append(f"conda-meta/{_clip(filename)}: larger than {MAX_RECORD_BYTES} bytes")
        else:
            data = json.loads(raw.decode("utf-8", errors="replace"))
    except OSError as exc:
        errors.append(f"conda-meta/{_clip(filename)}: {exc.strerror or exc}")
    except (ValueError, RecursionError) as exc:
        errors.append(f"conda-meta/{_clip(filename)}: not JSON ({type(exc).__name__})")
    if data is not None and not isinstance(data, dict):
        errors.append(f"conda-meta/{_clip(filename)}: not a JSON object")
        data = None
    record = data or {}
    package: JSON = {
        "name": _text(record.get("name")) or name,
        "version": _text(record.get("version")) or version,
        "build": _text(record.get("build")) or build,
        "build_number": record.get("build_number")
        if type(record.get("build_number")) is int
        else None,
        "channel": _channel(record),
        "subdir": _text(record.get("subdir")),
        "depends": _strings(record.get("depends")),
        "constrains": _strings(record.get("constrains")),
        "track_features": _features(record.get("track_features")),
        "python_dists": [],
        "library_files": [],
        "record_error": None
        if data is not None
        else "record unreadable; name, version, build from its file name",
    }
    files = record.get("files")
    if isinstance(files, list):
        package["python_dists"], package["library_files"] = _kept_files(files)
    package["cuda"] = cuda_facts(package)
    return package


def _from_filename(filename: str) -> tuple[str | None, str | None, str | None]:
    """``pytorch-1.13.0-cuda112py310he33e0d6_200.json`` → name, version, build (neither of the
    last two holds a hyphen, so the name may)."""
    parts = filename[: -len(".json")].rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return _clip(filename[: -len(".json")]) or None, None, None
    return _clip(parts[0]), _clip(parts[1]), _clip(parts[2])


def _clip(text: str) -> str:
    return text[:MAX_TEXT]


def _text(value: Any) -> str | None:
    return _clip(value) if isinstance(value, str) and value else None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_clip(v) for v in value[:MAX_LIST] if isinstance(v, str)]


def _features(value: Any) -> list[str]:
    """track_features is a list in conda-meta, a space-separated string in some repodata."""
    if isinstance(value, str):
        return [_clip(v) for v in value.split()[:MAX_LIST]]
    return _strings(value)


def _channel(record: JSON) -> str | None:
    """The channel's name (``pytorch``, ``conda-forge``, ``nvidia``) from its URL or the package URL."""
    for key in ("channel", "url"):
        value = record.get(key)
        if not isinstance(value, str) or not value:
            continue
        text = value.split("://", 1)[-1].rstrip("/")
        parts = [p for p in text.split("/") if p]
        if key == "url":
            parts = parts[:-2]  # .../conda-forge/linux-64/pkg.conda
        elif parts and re.fullmatch(r"(noarch|linux|osx|win)(-\w+)?", parts[-1]):
            parts = parts[:-1]
        if "://" not in value and len(parts) == 1:
            return _clip(parts[0])  # already a name ("defaults", "pypi")
        if len(parts) >= 2:
            return _clip("/".join(parts[1:]))  # host dropped: "nvidia/label/cuda-11.8.0"
    return None


def _kept_files(files: list[Any]) -> tuple[list[str], list[str]]:
    """The package's Python metadata directories and shared libraries, from its file list."""
    dists: list[str] = []
    libraries: list[str] = []
    for item in files:
        if not isinstance(item, str) or len(item) > 4 * MAX_TEXT:
            continue
        match = _DIST_INFO.search(item)
        if match:
            where = item[: match.end(1)]
            if where not in dists and len(dists) < MAX_KEPT_FILES:
                dists.append(where)
        elif _LIBRARY.match(item) and len(libraries) < MAX_KEPT_FILES:
            libraries.append(item)
    return dists, libraries


def cuda_facts(package: JSON) -> JSON:
    """What the build string and dependencies say about CUDA: a cpu or cuda variant, the CUDA
    and cuDNN it was built with, and the CUDA packages it requires (as conda match specs)."""
    build = package.get("build") or ""
    variant = None
    cuda = cudnn = None
    evidence: list[str] = []
    for token in build.split("_"):
        match = _CUDA_TOKEN.match(token)
        if match and cuda is None:
            cuda = _cuda_version(match.group(1), match.group(2))
            variant = "cuda"
            evidence.append(f"build {build}")
        found = _CUDNN_TOKEN.search(token)
        if found and cudnn is None:
            cudnn = found.group(1)
        if token == "cpu" or (token.startswith("cpu") and not token[3:4].isalpha()):
            variant = variant or "cpu"
            evidence.append(f"build {build}")
    if package.get("name") == "pytorch-mutex" and build in ("cpu", "cuda"):
        variant = build
    requires: JSON = {}
    for spec in package.get("depends") or []:
        name, _, rest = spec.partition(" ")
        if name == "pytorch-mutex" and rest.split()[-1:] in (["cpu"], ["cuda"]):
            variant = variant or rest.split()[-1]
            evidence.append(f"depends {spec}")
        elif name in CUDA_DEPENDS:
            requires[name] = rest.strip() or "*"
        elif name == "__cuda":
            variant = variant or "cuda"
            evidence.append(f"depends {spec}")
    for feature in package.get("track_features") or []:
        if feature in ("cpuonly", "pytorch-cpu", "tensorflow-cpu"):
            variant = variant or "cpu"
            evidence.append(f"track_features {feature}")
    if variant is None and requires.get("pytorch-cuda"):
        variant = "cuda"
    return {
        "variant": variant,
        "cuda_version": cuda,
        "cudnn_version": cudnn,
        "requires": requires,
        "evidence": sorted(set(evidence)),
    }


def _cuda_version(digits: str, minor: str | None) -> str:
    """``11`` + ``8`` → 11.8 (cuda11.8); ``112`` → 11.2 and ``92`` → 9.2 (conda-forge writes
    cuda_compiler_version without its dot)."""
    if minor is not None:
        return f"{int(digits)}.{int(minor)}"
    if len(digits) >= 3:
        return f"{int(digits[:-1])}.{digits[-1]}"
    if len(digits) == 2:
        return f"{digits[0]}.{digits[1]}"
    return digits


def join_distributions(packages: JSON, conda: JSON | None) -> None:
    """Conda packages join the distributions, so checks see one list with each package's
    installer: a Python package's record is attached to its own .dist-info entry (``conda``);
    one without Python metadata (cudatoolkit, cudnn, pytorch-mutex) becomes an entry of its own,
    located at the environment's prefix, installer ``conda``."""
    if not conda:
        return
    dists: list[JSON] = packages.setdefault("distributions", [])
    prefix = str(conda.get("prefix") or "")
    by_name: dict[str, list[JSON]] = {}
    for dist in dists:
        by_name.setdefault(_canonical(dist.get("name")), []).append(dist)
    for package in conda.get("packages") or []:
        summary = {k: package.get(k) for k in ("name", "version", "build", "channel")}
        placed = False
        for where in package.get("python_dists") or []:
            location = posixpath.normpath(posixpath.join(prefix, posixpath.dirname(where)))
            # "torch-1.13.1-py3.10.egg-info": the name never holds a hyphen (wheel/egg escaping)
            name = _canonical(
                re.sub(r"\.(dist|egg)-info$", "", posixpath.basename(where)).split("-")[0]
            )
            for dist in by_name.get(name, []):
                if posixpath.normpath(str(dist.get("location") or "")) == location:
                    dist["conda"] = summary
                    placed = True
        if placed or package.get("python_dists"):
            continue  # a Python package whose metadata is gone (pip replaced it): not importable
        same = by_name.get(_canonical(package.get("name")))
        if same:
            same[0].setdefault("conda", summary)
            continue
        entry = {
            "name": package.get("name"),
            "version": package.get("version"),
            "location": prefix,
            "installer": "conda",
            "requires": [],  # conda match specs are not PEP 508 requirements
            "top_level": [],
            "metadata_error": None,
            "conda": summary,
        }
        dists.append(entry)
        by_name.setdefault(_canonical(entry["name"]), []).append(entry)


def _canonical(name: Any) -> str:
    return re.sub(r"[-_.]+", "-", str(name or "")).lower()
