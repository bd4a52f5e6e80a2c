"""Darknet (the C framework behind YOLO): its binary and library, and how they were built.

Darknet is no Python package: a `darknet` executable and `libdarknet.so` built with
`make GPU=1 CUDNN=1 OPENCV=1` (or CMake). How it was built is read from their ELF DT_NEEDED
entries (libcudart, libcublas, libcudnn, libopencv_*), and each needed library is looked up the
way the dynamic loader would (ld.so(8)): a library it cannot find is named. Nothing is run or
loaded; the places looked at are a bounded list, never a recursive walk.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from dldoctor.facts.elf import read_dynamic
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.libmap import COMMON_DIRS, DEFAULT_DIRS

JSON = dict[str, Any]
NAMES = (("darknet", "executable"), ("libdarknet.so", "library"))
# A Darknet checkout's build outputs: the Makefile writes both to the checkout itself, the
# CMake builds to build_release/ (AlexeyAB) or build/src-cli, build/src-lib (Hank.ai).
BUILD_SUBDIRS = ("", "build", "build_release", "build/src-cli", "build/src-lib", "lib")
COMMON_HOMES = ("~/darknet", "/opt/darknet", "/usr/local/darknet")
SYSTEM_DIRS = ("/usr/local/lib", "/usr/lib")  # where an installed libdarknet.so lands
MAX_PATH_DIRS = 64  # PATH entries looked at
MAX_OBJECTS = 16
MAX_NEEDED = 128
# What a needed library says of the build (its SONAME's stem).
BUILT_WITH = {
    "cuda_runtime": re.compile(r"^libcudart\.so\.(?P<version>\d+(?:\.\d+)?)$"),
    "cublas": re.compile(r"^libcublas\.so\.(?P<version>\d+(?:\.\d+)?)$"),
    "cudnn": re.compile(r"^libcudnn\.so\.(?P<version>\d+(?:\.\d+)?)$"),
    "opencv": re.compile(r"^libopencv_\w+\.so(?:\.(?P<version>[\w.]+))?$"),
}


def gather_darknet(host: Host, ldcache: LdCache, architecture: str | None) -> JSON:
    """The ``packages.darknet`` section: every Darknet binary and library found. Never raises."""
    places = _places(host)
    objects: list[JSON] = []
    seen: set[str] = set()
    for path, via, kind in places:
        real = _real(host, path)
        if real is None or real in seen or len(objects) >= MAX_OBJECTS:
            continue
        seen.add(real)
        objects.append(_describe(host, path, via, kind, ldcache, architecture))
    for path in ldcache.find("libdarknet.so"):
        real = _real(host, path)
        if real is not None and real not in seen and len(objects) < MAX_OBJECTS:
            seen.add(real)
            objects.append(_describe(host, path, "ldconfig", "library", ldcache, architecture))
    searched = list(dict.fromkeys(posixpath.dirname(p) for p, _, _ in places))  # in order, once
    return {"searched": searched, "objects": objects}


def _places(host: Host) -> list[tuple[str, str, str]]:
    """(path, how it was found, kind) of each place a Darknet file may be, in order."""
    found: list[tuple[str, str, str]] = []
    path_dirs = [d for d in (host.env.get("PATH") or "").split(":") if d.startswith("/")]
    for directory in path_dirs[:MAX_PATH_DIRS]:
        found.append((posixpath.join(directory, "darknet"), "PATH", "executable"))
    homes = [(host.env.get("DARKNET_HOME") or "", "DARKNET_HOME")]
    user_home = host.env.get("HOME") or ""
    for home in COMMON_HOMES:
        if home.startswith("~"):
            home = user_home + home[1:] if user_home.startswith("/") else ""
        homes.append((home, "common build directory"))
    for home, via in homes:
        if not home.startswith("/"):
            continue
        for sub in BUILD_SUBDIRS:
            for name, kind in NAMES:
                found.append((posixpath.normpath(posixpath.join(home, sub, name)), via, kind))
    for directory in SYSTEM_DIRS:
        found.append((posixpath.join(directory, "libdarknet.so"), "system", "library"))
    return found


def _real(host: Host, path: str) -> str | None:
    """The file's real path when it is a regular file (symbolic links followed), else None."""
    try:
        target = host.path(path)
        return str(target.resolve()) if target.is_file() else None
    except (OSError, RuntimeError):  # RuntimeError: a symbolic-link loop (Python < 3.13)
        return None


def _describe(
    host: Host, path: str, via: str, kind: str, ldcache: LdCache, architecture: str | None
) -> JSON:
    info = read_dynamic(str(host.path(path)))
    record: JSON = {"path": path, "found_via": via, "kind": kind}
    if info is None:
        return {
            **record,
            "needed": None,
            "built_with": None,
            "missing": None,
            "error": "not a readable ELF object with a dynamic section (a static build?)",
        }
    needed = list(info.needed[:MAX_NEEDED])
    built: JSON = {}
    for key, pattern in BUILT_WITH.items():
        matches = [n for n in needed if pattern.match(n)]
        built[key] = (matches if key == "opencv" else matches[0]) if matches else False
    search = _search_dirs(host, path, info.rpath, info.runpath, architecture)
    missing = [n for n in needed if not _resolves(host, n, search, ldcache, architecture)]
    return {**record, "needed": needed, "built_with": built, "missing": missing, "error": None}


def _search_dirs(
    host: Host,
    path: str,
    rpath: tuple[str, ...],
    runpath: tuple[str, ...],
    architecture: str | None,
) -> list[str]:
    """The directories searched before the ldconfig cache: DT_RPATH (without DT_RUNPATH),
    LD_LIBRARY_PATH, DT_RUNPATH ($ORIGIN: the object's own directory)."""
    origin = posixpath.dirname(path)
    dirs = [_expand(d, origin) for d in rpath] if not runpath else []
    dirs += [d for d in (host.env.get("LD_LIBRARY_PATH") or "").split(":") if d.startswith("/")]
    dirs += [_expand(d, origin) for d in runpath]
    return [d for d in dirs if d]


def _expand(entry: str, origin: str) -> str:
    text = entry.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", origin)
    return posixpath.normpath(text) if text.startswith("/") and "$" not in text else ""


def _resolves(
    host: Host, name: str, search: list[str], ldcache: LdCache, architecture: str | None
) -> bool:
    """Whether the loader finds ``name``: the search directories, the ldconfig cache (exact
    SONAME), then the default directories."""
    if "/" in name:  # a NEEDED path is loaded from there
        return _real(host, name) is not None
    for directory in search:
        if _real(host, posixpath.join(directory, name)) is not None:
            return True
    if any(soname == name for soname, _ in ldcache.entries):
        return True
    defaults = [*DEFAULT_DIRS.get(architecture or "", ()), *COMMON_DIRS]
    return any(_real(host, posixpath.join(d, name)) is not None for d in defaults)
