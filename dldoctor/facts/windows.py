"""Native Windows facts: the build and edition (registry), and where CUDA's DLLs sit on the search path.

The registry is read through ``winreg`` (or the host's stand-in with the same functions), and
Windows paths ("C:\\Program Files\\...") through the host's root, so a test lays out a tree like
C:\\ under a temporary directory and takes the code path a Windows machine takes. Nothing is
loaded: a DLL's version is the one its file name carries (cudnn64_8.dll: cuDNN 8).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
from pathlib import Path, PureWindowsPath
from typing import Any

from dldoctor.facts.host import Host

JSON = dict[str, Any]

CURRENT_VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
# The values of that key worth keeping, and how long they may be (a registry is writable by
# administrators and tools: nothing read from it is trusted or unbounded).
_VALUES = (
    "CurrentBuild",
    "CurrentBuildNumber",
    "UBR",
    "EditionID",
    "DisplayVersion",
    "ReleaseId",
    "ProductName",
    "InstallationType",
)
_TEXT_LIMIT = 100
MAX_PATH_ENTRIES = 200
MAX_DIR_ENTRIES = 20_000  # System32 holds a few thousand files; a directory past this is cut
# The CUDA DLLs frameworks load by name: cudart64_12.dll, cudart64_110.dll (CUDA 11.x),
# cublas64_12.dll, cublasLt64_12.dll, cudnn64_8.dll and cuDNN's sub-libraries
# (cudnn_ops_infer64_8.dll, cudnn_cnn64_9.dll).
_DLL = re.compile(r"^(cudart|cublasLt|cublas|cudnn(?:_[a-z_]+)?)(?:32|64)_(\d{1,3})\.dll$", re.I)
_CUDA_PATH_VAR = re.compile(r"^CUDA_PATH(?:_V\d+_\d+)?$", re.I)


def windows_version(registry: Any, live: bool) -> tuple[JSON, dict[str, str]]:
    """(facts, errors): the build, update revision, edition and release of this Windows."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if registry is None:
        errors["registry"] = "winreg is not available"
    else:
        try:
            key = registry.OpenKey(registry.HKEY_LOCAL_MACHINE, CURRENT_VERSION_KEY)
        except OSError as exc:
            errors["registry"] = f"HKLM\\{CURRENT_VERSION_KEY}: {exc}"
        else:
            try:
                for name in _VALUES:
                    try:
                        values[name] = registry.QueryValueEx(key, name)[0]
                    except OSError:  # a value this release does not write (DisplayVersion < 20H2)
                        continue
            finally:
                registry.CloseKey(key)
    version = platform.win32_ver()[1] if live else ""
    build = _text(values.get("CurrentBuild")) or _text(values.get("CurrentBuildNumber"))
    if not build and version.count(".") == 2:
        build = version.rsplit(".", 1)[1]  # "10.0.22631"
    ubr = values.get("UBR")
    facts = {
        "version": version or None,
        "build": build if build and build.isdigit() else None,
        "update_build_revision": ubr if type(ubr) is int and ubr >= 0 else None,
        "edition": _text(values.get("EditionID")),
        # DisplayVersion ("23H2") since 20H2; ReleaseId ("2004") before it.
        "display_version": _text(values.get("DisplayVersion")) or _text(values.get("ReleaseId")),
        # Windows 11 still says "Windows 10" here; the build (22000 and later) tells them apart.
        "product_name": _text(values.get("ProductName")),
        "installation_type": _text(values.get("InstallationType")),
    }
    for field in ("build", "edition"):
        if facts[field] is None and "registry" not in errors:
            errors[field] = f"HKLM\\{CURRENT_VERSION_KEY} has no value for it"
    return facts, errors


def registry_module(host: Host) -> Any:
    """The host's registry stand-in, or winreg itself on this Windows machine, else None."""
    if host.winreg is not None:
        return host.winreg
    try:
        return importlib.import_module("winreg")
    except ImportError:
        return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return "".join(c for c in value.strip() if c.isprintable())[:_TEXT_LIMIT]


def env_value(host: Host, name: str) -> str | None:
    """An environment variable by its name in any case, as Windows reads them (os.environ on
    Windows holds "PATH" and "PROGRAMFILES"; a recorded environment may hold "Path")."""
    wanted = name.upper()
    return next((v for k, v in host.env.items() if k.upper() == wanted), None)


def local(host: Host, path: str) -> Path:
    """Where a Windows path lives under the host's root ("C:\\x" → ROOT/C/x in a test)."""
    if host.root == Path("/") and os.name == "nt":
        return Path(path)
    pure = PureWindowsPath(path)
    drive = pure.drive.rstrip(":\\/") or "C"
    return host.root.joinpath(drive, *pure.parts[1:])


def dll_search(host: Host, prefix: str | None) -> JSON:
    """PATH, CUDA_PATH(_Vx_y)\\bin and the conda env's Library\\bin, in PATH order, with the CUDA
    DLLs each directory holds; ``first_on_path``: the directory a plain LoadLibrary search finds
    each DLL name in (after the application's and the system's directories)."""
    env = host.env
    path_value = env_value(host, "PATH") or ""
    cuda_paths = {k: v for k, v in sorted(env.items()) if _CUDA_PATH_VAR.match(k) and v}
    conda_bin = str(PureWindowsPath(prefix, "Library", "bin")) if prefix else None
    order: list[str] = []
    sources: dict[str, list[str]] = {}

    def add(directory: str, source: str) -> None:
        key = directory.lower().rstrip("\\/")  # Windows paths are case-insensitive
        if key not in sources:
            order.append(directory)
            sources[key] = []
        if source not in sources[key]:
            sources[key].append(source)

    on_path = [p.strip().strip('"') for p in path_value.split(";") if p.strip()]
    for directory in on_path[:MAX_PATH_ENTRIES]:
        add(directory, "PATH")
    for name, value in cuda_paths.items():
        add(str(PureWindowsPath(value, "bin")), name)
    if conda_bin:
        add(conda_bin, "conda Library\\bin")
    entries: list[JSON] = []
    first: dict[str, str] = {}
    path_keys = {d.lower().rstrip("\\/") for d in on_path[:MAX_PATH_ENTRIES]}
    for directory in order:
        key = directory.lower().rstrip("\\/")
        libraries, exists = _dlls(local(host, directory))
        entry: JSON = {
            "path": directory,
            "sources": sources[key],
            "on_path": key in path_keys,
            "exists": exists,
            "libraries": libraries,
        }
        entries.append(entry)
        if entry["on_path"]:
            for library in libraries:
                first.setdefault(library["file"].lower(), directory)
    return {
        "directories": entries,
        "cuda_path": cuda_paths or False,
        "conda_library_bin": conda_bin or False,
        "first_on_path": first,
    }


def _dlls(directory: Path) -> tuple[list[JSON], bool | None]:
    """The CUDA DLLs in ``directory`` with the version their names carry; whether it exists."""
    found = []
    try:
        with os.scandir(directory) as listing:
            for count, item in enumerate(listing):
                if count >= MAX_DIR_ENTRIES:
                    break
                match = _DLL.match(item.name)
                if match:
                    library, tag = match.group(1).lower(), match.group(2)
                    found.append(
                        {
                            "file": item.name,
                            "library": "cublasLt" if library == "cublaslt" else library,
                            "version": tag,
                            "major": _major(library, tag),
                        }
                    )
    except FileNotFoundError:
        return [], False
    except OSError:  # not a directory, no permission: unknown what it holds
        return [], None
    return sorted(found, key=lambda lib: lib["file"].lower()), True


def _major(library: str, tag: str) -> int:
    """The major version a DLL name carries: cudnn64_8 → 8; cudart64_110 → 11 (every 11.x),
    cudart64_101 → 10, cudart64_12 → 12, cublas64_10 → 10, cudart64_92 → 9."""
    if library.startswith("cudnn") or len(tag) == 1:
        return int(tag)
    if len(tag) == 3:
        return int(tag[:2])
    return int(tag) if tag.startswith("1") else int(tag[0])
