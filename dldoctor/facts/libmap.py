"""The library map: every copy of each CUDA library, and the one the dynamic loader would pick
for each framework, found statically (ELF dynamic sections, file names, headers; nothing loaded).

The search order is glibc's (ld.so(8)): DT_RPATH of the loading object when it has no
DT_RUNPATH (and then the executable's), LD_LIBRARY_PATH, the object's DT_RUNPATH with $ORIGIN
expanded, the ldconfig cache, then the default directories. The loading object is the
framework's own library named in compat_matrix/libraries.toml (torch/lib/libtorch_cuda.so...).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from dldoctor.facts.elf import read_dynamic
from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import is_file, resolve
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.libscan import Scanner, listing, names, real_dir

JSON = dict[str, Any]

# Where glibc looks last, unless -z nodeflib (Debian's multiarch directories first).
DEFAULT_DIRS = {
    "x86_64": ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"),
    "aarch64": ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64"),
}
COMMON_DIRS = ("/lib", "/usr/lib")
MAX_CANDIDATES = 8  # per library and framework: the first one wins, the rest are evidence


def gather_library_map(
    host: Host,
    libraries: Sequence[JSON],
    anchors: Sequence[JSON],
    site_dirs: Sequence[str],
    ldcache: LdCache,
    toolkits: Sequence[str] = (),
    conda: JSON | bool | None = None,
    nvidia_wheels: Sequence[JSON] = (),
    executable: str | None = None,
    architecture: str | None = None,
) -> JSON:
    """The ``cuda.library_map`` section. Never raises; unreadable places are in ``errors``."""
    stems = {str(lib["key"]): str(lib["file"]) for lib in libraries}
    conda = conda if isinstance(conda, dict) else None
    prefix = (conda or {}).get("prefix")
    scanner = Scanner(host, stems, _owners(host, conda, site_dirs, nvidia_wheels))
    ld_path = [d for d in (host.env.get("LD_LIBRARY_PATH") or "").split(":") if d.startswith("/")]
    defaults = [*DEFAULT_DIRS.get(architecture or "", ()), *COMMON_DIRS]
    places: list[tuple[str, str]] = [(d, "LD_LIBRARY_PATH") for d in ld_path]
    places += [(posixpath.join(tk, sub), "toolkit") for tk in toolkits for sub in ("lib64", "lib")]
    places += [(d, "toolkit") for tk in toolkits for d in _target_dirs(host, tk)]
    for site in site_dirs:
        nvidia = posixpath.join(site, "nvidia")
        places += [(posixpath.join(nvidia, n, "lib"), "pip-wheel") for n in names(host, nvidia)]
    if prefix:
        places.append((posixpath.join(prefix, "lib"), "conda-env"))
    frameworks: JSON = {}
    for anchor in anchors:
        found = _anchor(host, anchor, site_dirs)
        if found is None:
            continue
        path, site = found
        frameworks[str(anchor["framework"])] = _framework(
            host, scanner, path, site, ld_path, ldcache, defaults, executable
        )
        places += [
            (d["dir"], _kind(d["dir"], site_dirs, prefix, toolkits))
            for d in frameworks[str(anchor["framework"])]["search"]
            if d["via"] == "runpath"
        ]
    places += [(d, "system") for d in defaults]
    copies = _copies(scanner, places, ldcache, site_dirs, prefix, toolkits)
    return {"copies": copies, "frameworks": frameworks, "errors": scanner.errors}


def _target_dirs(host: Host, toolkit: str) -> list[str]:
    targets = posixpath.join(toolkit, "targets")
    return [posixpath.join(targets, n, "lib") for n in names(host, targets)]


def _owners(
    host: Host, conda: JSON | None, site_dirs: Sequence[str], wheels: Sequence[JSON]
) -> dict[str, str]:
    """Real library path → version of the package that installed it (conda record, pip wheel)."""
    owners: dict[str, str] = {}
    prefix = (conda or {}).get("prefix")
    for package in (conda or {}).get("packages") or []:
        for rel in package.get("library_files") or []:
            if prefix and package.get("version"):
                owners[resolve(host, posixpath.join(prefix, rel))] = str(package["version"])
    for wheel in wheels:
        component = str(wheel.get("component") or "").replace("-", "_")
        if not component or not wheel.get("version"):
            continue
        for site in site_dirs:
            lib = posixpath.join(site, "nvidia", component, "lib")
            try:
                names = listing(real_dir(host, lib))
            except OSError:
                continue
            for name in names:
                owners.setdefault(resolve(host, posixpath.join(lib, name)), str(wheel["version"]))
    return owners


def _anchor(host: Host, anchor: JSON, site_dirs: Sequence[str]) -> tuple[str, str] | None:
    """(path, site dir) of the first of the framework's files found on the search path."""
    for relative in anchor.get("files") or []:
        for site in site_dirs:
            path = posixpath.join(site, relative)
            if is_file(host, path):
                return path, site
    return None


def _framework(
    host: Host,
    scanner: Scanner,
    path: str,
    site: str,
    ld_path: Sequence[str],
    ldcache: LdCache,
    defaults: Sequence[str],
    executable: str | None,
) -> JSON:
    info = read_dynamic(str(host.path(resolve(host, path))))
    origin = posixpath.dirname(path)
    search: list[JSON] = []
    if info is not None and not info.runpath:
        search += [{"dir": _expand(d, origin), "via": "rpath"} for d in info.rpath]
        exe_file = host.path(resolve(host, executable)) if executable else None
        exe = read_dynamic(str(exe_file)) if exe_file is not None and exe_file.is_file() else None
        if exe is not None and not exe.runpath:
            exe_origin = posixpath.dirname(executable or "")
            search += [
                {"dir": _expand(d, exe_origin), "via": "executable rpath"} for d in exe.rpath
            ]
    search += [{"dir": d, "via": "LD_LIBRARY_PATH"} for d in ld_path]
    if info is not None:
        search += [{"dir": _expand(d, origin), "via": "runpath"} for d in info.runpath]
    unique: list[JSON] = []
    for step in search:  # the loader tries a repeated directory again, to no effect
        if step["dir"] and all(step["dir"] != u["dir"] for u in unique):
            unique.append(step)
    search = unique
    libraries: JSON = {}
    for key in scanner.keys:
        requested = next(
            (n for n in (info.needed if info else ()) if scanner.library_of(n) == key), None
        )
        candidates: list[JSON] = []
        for step in search:
            for name in scanner.matches(step["dir"], key):
                if requested is None or name == requested:
                    _add(
                        candidates,
                        scanner.describe(posixpath.join(step["dir"], name), key),
                        step["via"],
                    )
        for soname, cached in scanner.cached(ldcache).get(key, []):
            if requested is None or soname == requested:
                _add(candidates, scanner.describe(cached, key), "ldconfig")
        for directory in defaults:
            for name in scanner.matches(directory, key):
                if requested is None or name == requested:
                    _add(
                        candidates,
                        scanner.describe(posixpath.join(directory, name), key),
                        "default",
                    )
        if candidates or requested:
            libraries[key] = {"requested": requested, "candidates": candidates[:MAX_CANDIDATES]}
    return {
        "anchor": path,
        "soname": info.soname if info else None,
        "needed": [n for n in (info.needed if info else ()) if scanner.library_of(n)],
        "rpath": list(info.rpath) if info else [],
        "runpath": list(info.runpath) if info else [],
        "search": search,
        "libraries": libraries,
        "error": None if info is not None else "not a readable ELF shared object",
    }


def _add(candidates: list[JSON], copy: JSON | None, via: str) -> None:
    """A candidate once per real file: the loader takes the first name it meets for it."""
    if copy is not None and all(c["real"] != copy["real"] for c in candidates):
        candidates.append({**copy, "via": via})


def _expand(entry: str, origin: str) -> str:
    """$ORIGIN (and ${ORIGIN}) is the loading object's directory; other tokens ($LIB,
    $PLATFORM) depend on the loader build, so such entries are left out."""
    text = entry.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", origin)
    if "$" in text or not text.startswith("/"):
        return ""
    return posixpath.normpath(text)


def _kind(
    directory: str, site_dirs: Sequence[str], prefix: str | None, toolkits: Sequence[str]
) -> str:
    for site in site_dirs:
        if directory.startswith(site.rstrip("/") + "/"):
            rest = directory[len(site.rstrip("/")) + 1 :]
            return "pip-wheel" if rest.startswith("nvidia/") else "framework-package"
    if prefix and directory.startswith(prefix.rstrip("/") + "/"):
        return "conda-env"
    if any(directory.startswith(tk.rstrip("/") + "/") for tk in toolkits):
        return "toolkit"
    return "system"


def _copies(
    scanner: Scanner,
    places: Sequence[tuple[str, str]],
    ldcache: LdCache,
    site_dirs: Sequence[str],
    prefix: str | None,
    toolkits: Sequence[str],
) -> JSON:
    """Every copy of each library, one per real file, with where it was found."""
    copies: JSON = {key: [] for key in scanner.keys}
    seen: set[str] = set()

    def add(path: str, key: str, kind: str) -> None:
        copy = scanner.describe(path, key)
        if copy is not None and copy["real"] not in seen:
            seen.add(copy["real"])
            copies[key].append({**copy, "kind": kind})

    for directory, kind in places:
        for key, name in scanner.entries(directory):
            add(posixpath.join(directory, name), key, kind)
    for key, entries in scanner.cached(ldcache).items():
        for _, path in entries:
            add(path, key, _kind(posixpath.dirname(path), site_dirs, prefix, toolkits))
    return {k: v for k, v in copies.items() if v}
