"""Facts about CUDA toolkits: where they are, their versions, the nvcc on PATH, CUDA libraries."""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import Any

from dldoctor.facts.cudalibs import gather_libraries
from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import is_file, machine_path, read_text, resolve
from dldoctor.facts.ldcache import LdCache, read_ldcache

JSON = dict[str, Any]

ENV_VARS = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT")
DEFAULT_LINK = "/usr/local/cuda"
VERSIONED_GLOB = "/usr/local/cuda-*"
NVCC_ON_PATH = "nvcc on PATH"
OTHER_PLACES = ("/opt/cuda",)  # Arch Linux and its derivatives

# "Cuda compilation tools, release 13.0, V13.0.88"
_NVCC_RELEASE = re.compile(r"release (\d+\.\d+), V(\d+(?:\.\d+)+)")
_NVCC_RELEASE_SHORT = re.compile(r"release (\d+\.\d+)")
# version.txt, CUDA 10.2 and older: "CUDA Version 10.2.89"
_VERSION_TXT = re.compile(r"CUDA Version (\d+(?:\.\d+)+)")
_DOTTED = re.compile(r"\d+(?:\.\d+)*")
# An absolute path to an nvcc named by a wrapper script: "exec /usr/local/cuda-13.0/bin/nvcc "$@""
_SCRIPT_NVCC = re.compile(r"(/[^\s'\"`$;|&<>()]*/nvcc[^\s'\"`$;|&<>()/]*)")
_SCRIPT_HEAD_BYTES = 8192
_MAX_WRAPPERS = 4
_TOOLKIT_MARKERS = ("version.json", "version.txt", "include/cuda_runtime_api.h")


def gather_cuda(host: Host, ldcache: LdCache | None = None) -> JSON:
    """The ``cuda`` section. Never raises; what could not be read is None with its reason.

    Reads files only, except ``nvcc --version``: run once per nvcc binary, and only where no
    version.json or version.txt already says the version (a plain install never needs it).
    """
    errors: dict[str, str] = {}
    nvcc = _locate_nvcc(host)
    toolkits = _find_toolkits(host, nvcc["toolkit_path"] if nvcc else None, errors)
    versions = _NvccVersions(host)
    for tk in toolkits:
        _read_version_files(host, tk)
        if tk["version"] is None and tk["nvcc"] is not None:
            version, error = versions.of(tk["nvcc"], tk["nvcc"])
            tk["nvcc_version"] = version
            if version is not None:
                tk["version"], tk["version_source"] = version, "nvcc"
            elif error:
                tk["errors"]["nvcc"] = error
    toolkits.sort(key=_toolkit_order)
    if nvcc is not None:
        _nvcc_version(host, nvcc, toolkits, versions)
    if ldcache is None:
        ldcache = read_ldcache(host)
    if ldcache.error:
        errors["ldconfig"] = ldcache.error
    default = resolve(host, DEFAULT_LINK)
    return {
        # False: unset / none there (None would be unknown: dldoctor/facts/known.py).
        "env": {name: host.env.get(name, False) for name in ENV_VARS},
        "toolkits": toolkits,
        "default_toolkit": default if host.path(default).is_dir() else False,
        "nvcc_on_path": nvcc if nvcc is not None else False,
        "libraries": gather_libraries(host, [tk["path"] for tk in toolkits], ldcache, errors),
        "errors": errors,
    }


def _find_toolkits(host: Host, nvcc_toolkit: str | None, errors: dict[str, str]) -> list[JSON]:
    """Each toolkit once (by real path), with every way it was found."""
    candidates: list[tuple[str, str]] = []
    for name in ENV_VARS:
        value = host.env.get(name)
        if value:
            candidates.append((name, machine_path(host, value)))
    candidates.append((DEFAULT_LINK, DEFAULT_LINK))
    local = posixpath.dirname(VERSIONED_GLOB)
    for entry in _list_dir(host, local):
        if entry.startswith("cuda-"):
            candidates.append((VERSIONED_GLOB, posixpath.join(local, entry)))
    if nvcc_toolkit is not None:
        candidates.append((NVCC_ON_PATH, nvcc_toolkit))
    candidates.extend((place, place) for place in OTHER_PLACES)

    found: dict[str, JSON] = {}
    for label, path in candidates:
        real = resolve(host, path)
        if not host.path(real).is_dir():
            if label in ENV_VARS:
                errors[label] = f"{host.env.get(label)} is not a directory"
            continue
        tk = found.get(real)
        if tk is None:
            nvcc = posixpath.join(real, "bin", "nvcc")
            tk = found[real] = {
                "path": real,
                "version": None,
                "version_source": None,
                "nvcc": nvcc if is_file(host, nvcc) else None,
                "nvcc_version": None,
                "found_by": [],
                "errors": {},
            }
        if label not in tk["found_by"]:
            tk["found_by"].append(label)
    return list(found.values())


def _read_version_files(host: Host, tk: JSON) -> None:
    """version.json (CUDA 11.1+), else version.txt (CUDA 10.x and older)."""
    path = posixpath.join(tk["path"], "version.json")
    text = read_text(host, path)
    if text is not None:
        try:
            data = json.loads(text)
            version = data["cuda"]["version"]
            nvcc = (data.get("cuda_nvcc") or {}).get("version")
            if not isinstance(version, str) or not _DOTTED.fullmatch(version):
                raise ValueError(f"cuda.version is {version!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            tk["errors"]["version.json"] = f"not a CUDA version.json: {type(exc).__name__}: {exc}"
        else:
            tk["version"], tk["version_source"] = version, "version.json"
            tk["nvcc_version"] = nvcc if isinstance(nvcc, str) else None
            return
    elif host.path(resolve(host, path)).exists():
        tk["errors"]["version.json"] = "could not be read"
    text = read_text(host, posixpath.join(tk["path"], "version.txt"))
    match = _VERSION_TXT.search(text or "")
    if match:
        # CUDA 10.x nvcc carries the toolkit's own version (10.2.89 in both).
        tk["version"] = tk["nvcc_version"] = match.group(1)
        tk["version_source"] = "version.txt"
    elif text is not None:
        tk["errors"]["version.txt"] = "no 'CUDA Version X.Y.Z' line"


def _toolkit_order(tk: JSON) -> tuple[int, int, tuple[int, ...], str]:
    """CUDA_HOME's first (then CUDA_PATH's, CUDA_ROOT's), then /usr/local/cuda's, then newest."""
    labels = [*ENV_VARS, DEFAULT_LINK]
    rank = min((labels.index(x) for x in tk["found_by"] if x in labels), default=len(labels))
    version = tuple(int(p) for p in tk["version"].split(".")) if tk["version"] else ()
    return rank, 0 if version else 1, tuple(-p for p in version), tk["path"]


def _locate_nvcc(host: Host) -> JSON | None:
    """The nvcc a shell would run, followed through symlinks and wrapper scripts to its toolkit."""
    found = host.which("nvcc")
    if found is None:
        return None
    path = machine_path(host, found)
    target = resolve(host, path)
    for _ in range(_MAX_WRAPPERS):
        wrapped = _wrapped_nvcc(host, target)
        if wrapped is None:
            break
        target = wrapped
    return {
        "path": path,
        "target": target,
        "version": None,
        "toolkit_path": _toolkit_of(host, target),
        "error": None,
    }


def _wrapped_nvcc(host: Host, path: str) -> str | None:
    """The real path of the nvcc a wrapper script execs (``/usr/local/bin/nvcc`` here), if any."""
    head = host.read_text(path, limit_bytes=_SCRIPT_HEAD_BYTES)
    if head is None or not head.startswith("#!"):
        return None
    for match in _SCRIPT_NVCC.finditer(head):
        candidate = resolve(host, machine_path(host, match.group(1)))
        if candidate != path and is_file(host, candidate):
            return candidate
    return None


def _toolkit_of(host: Host, nvcc: str) -> str | None:
    """The toolkit an nvcc binary belongs to: the directory above its ``bin/``.

    A script there is trusted only in a directory that looks like a toolkit; a stray wrapper in
    /usr/local/bin would otherwise make /usr/local one.
    """
    bin_dir = posixpath.dirname(nvcc)
    if posixpath.basename(bin_dir) != "bin":
        return None
    toolkit = posixpath.dirname(bin_dir)
    if any(is_file(host, posixpath.join(toolkit, m)) for m in _TOOLKIT_MARKERS):
        return toolkit
    head = host.read_text(nvcc, limit_bytes=2)
    return toolkit if head is not None and head != "#!" else None


def _nvcc_version(host: Host, nvcc: JSON, toolkits: list[JSON], versions: _NvccVersions) -> None:
    """Fill in the nvcc on PATH's version: from its toolkit if that already knows, else run it."""
    tk = next((t for t in toolkits if t["path"] == nvcc["toolkit_path"]), None)
    same = tk is not None and tk["nvcc"] and resolve(host, tk["nvcc"]) == nvcc["target"]
    if tk is not None and same and tk["nvcc_version"]:
        nvcc["version"] = tk["nvcc_version"]
        return
    nvcc["version"], nvcc["error"] = versions.of(nvcc["target"], nvcc["path"])


class _NvccVersions:
    """``nvcc --version``, run at most once per nvcc binary (a hung one costs one timeout)."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._seen: dict[str, tuple[str | None, str | None]] = {}

    def of(self, binary: str, command: str) -> tuple[str | None, str | None]:
        """(version, error) of the nvcc ``binary``, running ``command`` (both machine paths)."""
        key = resolve(self._host, binary)
        if key not in self._seen:
            self._seen[key] = self._run(command)
        return self._seen[key]

    def _run(self, command: str) -> tuple[str | None, str | None]:
        result = self._host.run([str(self._host.path(resolve(self._host, command))), "--version"])
        if not result.ok:
            return None, result.describe_failure()
        match = _NVCC_RELEASE.search(result.stdout)
        if match:
            return match.group(2), None
        short = _NVCC_RELEASE_SHORT.search(result.stdout)
        if short:
            return short.group(1), None
        return None, "nvcc --version printed no 'release X.Y' line"


def _list_dir(host: Host, directory: str) -> list[str]:
    try:
        return sorted(os.listdir(host.path(resolve(host, directory))))
    except OSError:
        return []
