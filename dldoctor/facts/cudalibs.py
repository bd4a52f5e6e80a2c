"""CUDA libraries on the machine (cudart, cuDNN, NCCL, TensorRT, cuBLAS): headers and .so files."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import read_text, resolve
from dldoctor.facts.ldcache import LdCache

JSON = dict[str, Any]

LIBRARIES = ("cudart", "cudnn", "nccl", "tensorrt", "cublas")
SOURCE_HEADER = "header"
SOURCE_LDCONFIG = "ldconfig"
SOURCE_TOOLKIT_LIB = "toolkit-lib"
# A directory in LD_LIBRARY_PATH: the dynamic loader searches these before its cache.
SOURCE_LD_LIBRARY_PATH = "LD_LIBRARY_PATH"

# Debian/Ubuntu packages of cuDNN and TensorRT put their headers in the multiarch directories.
SYSTEM_INCLUDE_DIRS = (
    "/usr/include",
    "/usr/include/x86_64-linux-gnu",
    "/usr/include/aarch64-linux-gnu",
)
TOOLKIT_LIB_DIRS = ("lib64", "lib")

# The version macros sit near the top; cuda_runtime_api.h itself is ~600 KB.
_HEADER_LIMIT_BYTES = 64 * 1024
# "#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< TensorRT major version."
_DEFINE = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+([^\n]*?)[ \t]*(?://[^\n]*|/\*[^\n]*)?$", re.M
)
_LIB_STEMS = {
    "cudart": "libcudart",
    "cudnn": "libcudnn",
    "nccl": "libnccl",
    "tensorrt": "libnvinfer",
    "cublas": "libcublas",
}

Version = Optional[str]


@dataclass(frozen=True)
class _HeaderKind:
    library: str
    files: tuple[str, ...]  # names or glob patterns inside an include directory
    version: Callable[[dict[str, str]], Version]
    # Files that may carry the version (cuDNN 8+ moved it out of cudnn.h): count only if they do.
    optional_files: tuple[str, ...] = ()


def _dotted(*required: str, optional: tuple[str, ...] = ()) -> Callable[[dict[str, str]], Version]:
    def version(macros: dict[str, str]) -> Version:
        parts = [_number(macros, name) for name in required]
        if any(p is None for p in parts):
            return None
        for name in optional:
            extra = _number(macros, name)
            if extra is None:
                break
            parts.append(extra)
        return ".".join(str(p) for p in parts)

    return version


def _cudart_version(macros: dict[str, str]) -> Version:
    encoded = _number(macros, "CUDART_VERSION")  # 12040 is 12.4
    return None if encoded is None else f"{encoded // 1000}.{encoded % 1000 // 10}"


_HEADERS = (
    _HeaderKind("cudart", ("cuda_runtime_api.h",), _cudart_version),
    _HeaderKind(
        "cudnn",
        ("cudnn_version.h", "cudnn_version_v*.h"),
        _dotted("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"),
        optional_files=("cudnn.h",),  # cuDNN 7 and older
    ),
    _HeaderKind("nccl", ("nccl.h",), _dotted("NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH")),
    _HeaderKind(
        "tensorrt",
        ("NvInferVersion.h",),
        _dotted("NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH"),
    ),
    _HeaderKind(
        "cublas",
        ("cublas_api.h",),
        _dotted(
            "CUBLAS_VER_MAJOR",
            "CUBLAS_VER_MINOR",
            "CUBLAS_VER_PATCH",
            optional=("CUBLAS_VER_BUILD",),
        ),
    ),
)


def gather_libraries(
    host: Host, toolkits: Sequence[str], ldcache: LdCache, errors: dict[str, str]
) -> dict[str, list[JSON]]:
    """Every copy of each library: headers (toolkits' include dirs, then the system's),
    LD_LIBRARY_PATH's directories in order (what dlopen tries first), the loader's cache, then
    the toolkits' lib64/ and lib/. One entry per source and real file."""
    found = _Found()
    for directory in (host.env.get("LD_LIBRARY_PATH") or "").split(":"):
        if directory.startswith("/"):
            _scan_lib_dir(host, directory, found, errors, SOURCE_LD_LIBRARY_PATH)
    for directory in [posixpath.join(tk, "include") for tk in toolkits] + list(SYSTEM_INCLUDE_DIRS):
        _scan_headers(host, directory, found, errors)
    for soname, path in ldcache.entries:
        library = _library_of(soname)
        if library is not None:
            real = resolve(host, path)
            version = _longest(_lib_version(library, soname), _lib_version(library, real))
            found.add(library, SOURCE_LDCONFIG, path, real, version)
    for tk in toolkits:
        for sub in TOOLKIT_LIB_DIRS:
            _scan_lib_dir(host, posixpath.join(tk, sub), found, errors)
    return found.libraries


class _Found:
    """Entries by library, keeping one per (source, real file) with the most precise version."""

    def __init__(self) -> None:
        self.libraries: dict[str, list[JSON]] = {name: [] for name in LIBRARIES}
        self._index: dict[tuple[str, str, str], JSON] = {}

    def add(self, library: str, source: str, path: str, real: str, version: Version) -> None:
        key = (library, source, real)
        entry = self._index.get(key)
        if entry is None:
            entry = {"version": version, "path": path, "source": source}
            self._index[key] = entry
            self.libraries[library].append(entry)
        else:
            entry["version"] = _longest(entry["version"], version)


def _list_dir(host: Host, directory: str, errors: dict[str, str]) -> list[str]:
    try:
        return sorted(os.listdir(host.path(resolve(host, directory))))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        errors[directory] = f"could not list: {exc.strerror or exc}"
        return []


def _scan_headers(host: Host, directory: str, found: _Found, errors: dict[str, str]) -> None:
    names = _list_dir(host, directory, errors)
    if not names:
        return
    for kind in _HEADERS:
        for pattern in kind.files + kind.optional_files:
            for name in fnmatch.filter(names, pattern):
                path = posixpath.join(directory, name)
                text = read_text(host, path, limit_bytes=_HEADER_LIMIT_BYTES)
                if text is None:
                    if pattern not in kind.optional_files:
                        errors[path] = "could not be read"
                    continue
                version = kind.version(_macros(text))
                if version is None:
                    if pattern in kind.optional_files:
                        continue
                    errors[path] = f"no {kind.library} version macros found"
                found.add(kind.library, SOURCE_HEADER, path, resolve(host, path), version)


def _scan_lib_dir(
    host: Host,
    directory: str,
    found: _Found,
    errors: dict[str, str],
    source: str = SOURCE_TOOLKIT_LIB,
) -> None:
    for name in _list_dir(host, directory, errors):
        library = _library_of(name)
        if library is None:
            continue
        path = posixpath.join(directory, name)
        real = resolve(host, path)
        if not host.path(real).is_file():
            continue  # a dangling link
        version = _longest(_lib_version(library, name), _lib_version(library, real))
        found.add(library, source, real, real, version)


def _library_of(name: str) -> str | None:
    """Which library a file or soname is (``libcudnn.so.9`` → cudnn); not ``libcudnn_ops``."""
    for library, stem in _LIB_STEMS.items():
        if name == stem + ".so" or name.startswith(stem + ".so."):
            return library
    return None


def _lib_version(library: str, path: str) -> Version:
    """``libcudnn.so.9.1.0`` → ``9.1.0``; ``libcudart.so.13`` → ``13``; ``libcudnn.so`` → None."""
    name = posixpath.basename(path)
    match = re.fullmatch(re.escape(_LIB_STEMS[library]) + r"\.so\.(\d+(?:\.\d+)*)", name)
    return match.group(1) if match else None


def _longest(a: Version, b: Version) -> Version:
    if a is None or b is None:
        return a or b
    return b if b.count(".") > a.count(".") else a


def _macros(text: str) -> dict[str, str]:
    macros: dict[str, str] = {}
    for match in _DEFINE.finditer(text):
        macros.setdefault(match.group(1), match.group(2).strip())
    return macros


def _number(macros: dict[str, str], name: str) -> int | None:
    """A macro's integer value, following aliases.

    TensorRT 10: ``#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE`` and ``TRT_MAJOR_ENTERPRISE 10``.
    """
    value = macros.get(name)
    for _ in range(4):
        if value is None:
            return None
        value = value.strip("() \t")
        if value.isdigit():
            return int(value)
        value = macros.get(value)
    return None


def header_version(host: Host, include_dir: str, library: str) -> Version:
    """The version a library's own header in ``include_dir`` declares (``cudnn_version.h``)."""
    names = _list_dir(host, include_dir, {})
    for kind in _HEADERS:
        if kind.library != library:
            continue
        for pattern in kind.files + kind.optional_files:
            for name in fnmatch.filter(names, pattern):
                text = read_text(host, posixpath.join(include_dir, name), _HEADER_LIMIT_BYTES)
                version = kind.version(_macros(text or ""))
                if version is not None:
                    return version
    return None
