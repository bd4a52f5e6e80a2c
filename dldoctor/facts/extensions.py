"""What each installed extension library was built for, read from its files (nothing imported).

An extension (flash-attn, xformers, torchvision, torch-scatter...) links against the framework's
C++ libraries and a CUDA runtime. Its own files say what it was built for: the local version
label (``+cu12torch2.6cxx11abiFALSE``, ``+pt21cu121``, ``+cu130``) of its version or of the wheel
file it was installed from (PEP 610 ``direct_url.json``), an exact ``torch==X`` in its
Requires-Dist, and the DT_NEEDED of its compiled modules (``libcudart.so.12``: CUDA 12;
``libc10.so``: linked against torch). Which extensions exist and how their labels read is data
(compat_matrix/extensions.toml).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import Any

from dldoctor.facts.elf import read_dynamic, read_dynstr
from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import read_text, resolve
from dldoctor.facts.interpreter import canonical
from dldoctor.facts.torchlinks import resolve_torch_symbols, torch_abi

JSON = dict[str, Any]

MAX_RECORD_BYTES = 8 << 20  # xformers' RECORD is ~300 KB; torch's (not an extension) ~2 MB
MAX_MODULES = 16  # bitsandbytes ships one library per CUDA minor: ~12
# Libraries whose SONAME major is the CUDA major (cuFFT, cuRAND... number theirs otherwise).
# auditwheel renames bundled copies: libcudart.faf08d9a.so.13 (torchvision.libs/).
_CUDA_SONAME = re.compile(r"^lib(?:cudart|cublas|cublasLt|nvrtc)(?:[.-][0-9a-f]{8})?\.so\.(\d+)$")
_TORCH_LIBS = ("libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_python.so")
_TORCH_CUDA_LIBS = ("libc10_cuda.so", "libtorch_cuda.so")
_EXACT_TORCH = re.compile(r"^\s*torch\s*\(?\s*==\s*([0-9][0-9a-zA-Z.+]*)\s*\)?\s*(?:;|$)")


def _glob(pattern: str) -> re.Pattern[str]:
    """A RECORD path pattern: ``*`` is any characters but '/'."""
    return re.compile("".join("[^/]*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def cuda_of_digits(digits: str) -> str:
    """A label's CUDA digits as a version: '121' → '12.1', '12' → '12' (major), '92' → '9.2'."""
    if len(digits) == 2 and digits.startswith("1"):
        return digits  # cu11, cu12, cu13: the major only (flash-attn's wheels since 2.5)
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) > 1 else digits


def parse_label(label: str, rules: list[JSON]) -> JSON | None:
    """What a local version label says (torch, cuda, cpu, rocm, cxx11_abi); None: no rule reads it."""
    for rule in rules:
        match = re.match(str(rule["pattern"]), label)
        if not match:
            continue
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        said: JSON = {}
        if "torch" in groups:
            said["torch"] = groups["torch"]
        elif "torch_digits" in groups:
            digits = groups["torch_digits"]
            said["torch"] = f"{digits[0]}.{digits[1:]}"
        if "cuda" in groups:
            said["cuda"] = cuda_of_digits(groups["cuda"])
        if "cpu" in groups:
            said["cuda"] = False
        if "rocm" in groups:
            said["rocm"], said["cuda"] = groups["rocm"], False
        if "abi" in groups:
            said["cxx11_abi"] = groups["abi"] == "TRUE"
        return said
    return None


def _metadata_dir(host: Host, location: str, name: str, version: str | None) -> str | None:
    """The .dist-info (or .egg-info) directory of one distribution in its sys.path entry."""
    try:
        entries = sorted(os.listdir(host.path(resolve(host, location))))
    except OSError:
        return None
    wanted = canonical(name)
    fallback = None
    for entry in entries:
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        stem, _, rest = entry.rsplit(".", 1)[0].partition("-")
        if canonical(stem) != wanted:
            continue
        if version is None or rest.split("-")[0] == version:
            return posixpath.join(location, entry)
        fallback = fallback or posixpath.join(location, entry)
    return fallback


def _record(host: Host, meta: str | None) -> list[str] | None:
    text = read_text(host, posixpath.join(meta, "RECORD"), MAX_RECORD_BYTES) if meta else None
    if text is None:
        return None
    return [line.rsplit(",", 2)[0].strip('"') for line in text.splitlines() if line.strip()]


def _origin(host: Host, meta: str | None) -> JSON | bool:
    """PEP 610 direct_url.json: how it was installed (archive, directory, vcs) and the file's
    name; False when absent (installed from an index). The URL itself is not kept: it may
    carry credentials."""
    text = read_text(host, posixpath.join(meta, "direct_url.json"), 64 << 10) if meta else None
    if text is None:
        return False
    try:
        data = json.loads(text)
        url = str(data["url"])
    except (ValueError, KeyError, TypeError):
        return {"kind": None, "file": None}
    kind = next((k for k in ("archive", "dir", "vcs") if f"{k}_info" in data), None)
    name = posixpath.basename(url.split("?", 1)[0].split("#", 1)[0].rstrip("/")) or None
    return {"kind": {"dir": "directory"}.get(kind or "", kind), "file": name}


def _wheel_tags(host: Host, meta: str | None) -> list[str] | None:
    text = read_text(host, posixpath.join(meta, "WHEEL"), 64 << 10) if meta else None
    if text is None:
        return None
    return [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Tag:")]


def _module(host: Host, location: str, relpath: str) -> JSON:
    """One compiled module's DT_NEEDED, the CUDA major and torch it links, its C++ ABI."""
    real = str(host.path(resolve(host, posixpath.join(location, relpath))))
    info = read_dynamic(real)
    if info is None:
        return {
            "path": relpath,
            "needed": None,
            "cuda_major": None,
            "links_torch": None,
            "cxx11_abi": None,
            "torch_symbols_missing": None,
        }
    majors = {int(m.group(1)) for m in (_CUDA_SONAME.match(n) for n in info.needed) if m}
    links_torch = any(n in _TORCH_LIBS for n in info.needed)
    abi = None
    if links_torch:  # torch's C++ types in its imported symbols: std::__cxx11 only in the new ABI
        strings = read_dynstr(real)
        abi = True if strings is not None and b"__cxx11" in strings else None
    cuda_torch = any(n in _TORCH_CUDA_LIBS for n in info.needed)
    return {
        "path": relpath,
        "needed": list(info.needed),
        # False: linked against neither a CUDA runtime nor torch's CUDA libraries.
        "cuda_major": next(iter(majors))
        if len(majors) == 1
        else (None if majors or cuda_torch else False),
        "links_torch": links_torch,
        "cxx11_abi": abi,
        "torch_symbols_missing": None,  # filled in once torch's libraries are known
    }


def describe(host: Host, dist: JSON, spec: JSON, rules: list[JSON]) -> JSON:
    """One installed extension's build facts. Never raises."""
    location = str(dist.get("location") or "")
    version = dist.get("version")
    meta = _metadata_dir(host, location, str(dist.get("name") or spec["name"]), version)
    files = _record(host, meta)
    origin = _origin(host, meta)
    evidence: list[str] = []
    built: JSON = {"torch": None, "cuda": None, "rocm": None, "cxx11_abi": None}
    label: str | bool = False
    label_source: str | bool = False
    if version and "+" in str(version):
        label, label_source = str(version).partition("+")[2], "version"
    elif isinstance(origin, dict) and str(origin.get("file") or "").endswith(".whl"):
        # A wheel's file name is NAME-VERSION-...: the label is in its second part.
        parts = str(origin["file"]).split("-")
        label = parts[1].partition("+")[2] if len(parts) > 2 else ""
        label, label_source = (label, "direct_url.json") if label else (False, False)
    said = parse_label(label, rules) if isinstance(label, str) and label else None
    if said:
        built.update(said)
        evidence.append(f"local version label +{label} ({label_source})")
    if spec.get("cuda") and built["cuda"] is None:
        built["cuda"] = str(spec["cuda"])
        evidence.append(f"its name: the CUDA {spec['cuda']} build")
    pin = next((m.group(1) for m in map(_EXACT_TORCH.match, dist.get("requires") or []) if m), None)
    if pin and built["torch"] is None:
        built["torch"] = pin
        evidence.append(f"Requires-Dist torch=={pin}")
    modules = None
    missing = None
    patterns = [str(p) for p in spec.get("modules") or []]
    if files is not None and patterns:
        compiled = [_glob(p) for p in patterns]
        found = [f for f in files if any(c.match(f) for c in compiled)][:MAX_MODULES]
        modules = [_module(host, location, f) for f in found]
        missing = [p for p, c in zip(patterns, compiled) if not any(c.match(f) for f in files)]
        majors = {m["cuda_major"] for m in modules if m["links_torch"] or m["cuda_major"]}
        if built["cuda"] is None and len(majors) == 1 and None not in majors:
            built["cuda"] = str(majors.pop()) if majors != {False} else False
            evidence.append(f"DT_NEEDED of {posixpath.basename(modules[0]['path'])}")
        if built["cxx11_abi"] is None and any(m["cxx11_abi"] for m in modules):
            built["cxx11_abi"] = True
            evidence.append("std::__cxx11 in its compiled modules' symbols")
    return {
        "name": dist.get("name"),
        "key": spec["name"],
        "framework": spec.get("framework"),
        "version": version,
        "location": location,
        "local_label": label,
        "label_source": label_source,
        "origin": origin,
        "wheel_tags": _wheel_tags(host, meta),
        "torch_requirement": next(
            (
                str(r)
                for r in dist.get("requires") or []
                if canonical(re.split(r"[\s<>=!~;(\[]", str(r), maxsplit=1)[0]) == "torch"
            ),
            False,
        ),
        "modules": modules,
        "missing_modules": missing,
        "built_for": built,
        "evidence": evidence,
        "error": None if meta else "its .dist-info directory was not found",
    }


def gather_extensions(
    host: Host, distributions: list[JSON], specs: list[JSON], rules: list[JSON]
) -> JSON:
    """The ``packages.extensions`` section: each installed extension's build facts, torch's ABI."""
    first: dict[str, Any] = {}
    for dist in distributions:  # the first copy of each name is the one that imports
        if isinstance(dist, dict) and isinstance(dist.get("name"), str):
            first.setdefault(canonical(dist["name"]), dist)
    errors: list[str] = []
    installed = []
    for spec in specs:
        found = first.get(canonical(str(spec["name"])))
        if found is None:
            continue
        try:
            installed.append(describe(host, found, spec, rules))
        except Exception as exc:  # a bug here must not cost the report
            errors.append(f"{spec['name']}: internal error: {type(exc).__name__}: {exc}")
    abi, source = torch_abi(host, first.get("torch"))
    try:
        resolve_torch_symbols(host, first.get("torch"), installed)
    except Exception as exc:
        errors.append(f"torch symbols: internal error: {type(exc).__name__}: {exc}")
    return {
        "torch_cxx11_abi": abi,
        "torch_cxx11_abi_source": source,
        "installed": installed,
        "errors": errors,
    }
