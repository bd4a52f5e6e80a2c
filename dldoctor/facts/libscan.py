"""Library files in directories: which CUDA library a file is, its SONAME and most precise
version (file name, the package that installed it, the header beside it), each read once."""

from __future__ import annotations

import itertools
import os
import posixpath
import re
from collections.abc import Sequence
from typing import Any

from dldoctor.facts.cudalibs import header_version
from dldoctor.facts.elf import read_dynamic
from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import resolve
from dldoctor.facts.ldcache import LdCache

JSON = dict[str, Any]

MAX_DIR_ENTRIES = 20000  # a directory listing larger than this is cut (an odd /usr/lib)
_VERSION = re.compile(r"\.so\.(\d+(?:\.\d+)*)$")
_LIBRARY_FILE = re.compile(r"^(lib[A-Za-z0-9_+]+?)(?:-[0-9a-f]{8})?\.so(?:\.\d+)*$")


class Scanner:
    """Lists directories once and describes each library file once (by real path)."""

    def __init__(self, host: Host, stems: dict[str, str], owners: dict[str, str]) -> None:
        self.host = host
        self.keys = list(stems)
        self._by_stem = {stem: key for key, stem in stems.items()}
        self._stems = tuple(stems.values())
        self.owners = owners  # real path → version of the conda or pip package that installed it
        self._dirs: dict[str, dict[str, list[str]]] = {}
        self._files: dict[str, JSON] = {}
        self.errors: dict[str, str] = {}
        self._cache: dict[str, list[tuple[str, str]]] | None = None
        self._headers: dict[tuple[str, str], str | None] = {}

    def _index(self, directory: str) -> dict[str, list[str]]:
        """The directory's library files by library key, listed once."""
        if directory not in self._dirs:
            index: dict[str, list[str]] = {}
            try:
                entries = listing(real_dir(self.host, directory))
            except (FileNotFoundError, NotADirectoryError):
                entries = []
            except OSError as exc:
                self.errors[directory] = f"could not list: {exc.strerror or exc}"
                entries = []
            # Sorted once filtered: most of /usr/lib is no library of ours.
            for name in sorted(n for n in entries if n.startswith(self._stems)):
                key = self.library_of(name)
                if key is not None:
                    index.setdefault(key, []).append(name)
            self._dirs[directory] = index
        return self._dirs[directory]

    def library_of(self, name: str) -> str | None:
        """``libcudnn.so.9`` → cudnn; ``libcudart-e409450e.so.11.0`` (a bundled, renamed copy)
        → cudart; ``libcudnn_ops.so.9`` → cudnn_ops."""
        if not name.startswith(self._stems):  # most of /usr/lib: skip before the regex
            return None
        return library_of(name, self._by_stem)

    def entries(self, directory: str) -> list[tuple[str, str]]:
        """(key, name) of every library file in the directory."""
        return [(k, n) for k, names in self._index(directory).items() for n in names]

    def cached(self, ldcache: LdCache) -> dict[str, list[tuple[str, str]]]:
        """The loader cache's library entries by key, in the cache's order (computed once)."""
        if self._cache is None:
            self._cache = {}
            for soname, path in ldcache.entries:
                key = self.library_of(soname)
                if key is not None:
                    self._cache.setdefault(key, []).append((soname, path))
        return self._cache

    def matches(self, directory: str, key: str) -> list[str]:
        return self._index(directory).get(key, [])

    def describe(self, path: str, key: str) -> JSON | None:
        """One copy: its path, real file, SONAME and most precise version; None if dangling."""
        real = resolve(self.host, path)
        if not self.host.path(real).is_file():
            return None
        if real not in self._files:
            info = read_dynamic(str(self.host.path(real)))
            versions = [_file_version(path), _file_version(real), self.owners.get(real)]
            include = posixpath.join(posixpath.dirname(posixpath.dirname(real)), "include")
            if (include, key) not in self._headers:
                self._headers[(include, key)] = header_version(self.host, include, key)
            versions.append(self._headers[(include, key)])
            self._files[real] = {
                "real": real,
                "soname": info.soname if info else None,
                "version": _most_precise(versions, info.soname if info else None),
            }
        return {"path": path, **self._files[real]}


def library_of(name: str, by_stem: dict[str, str]) -> str | None:
    """The library key of a file name, given file stem → key (compat_matrix/libraries.toml)."""
    match = _LIBRARY_FILE.match(name)
    return by_stem.get(match.group(1)) if match else None


def _file_version(path: str) -> str | None:
    match = _VERSION.search(posixpath.basename(path))
    return match.group(1) if match else None


def _most_precise(versions: Sequence[str | None], soname: str | None) -> str | None:
    """The longest version consistent with the SONAME's major (a package version for a file of
    another major, e.g. a compat library, is not this file's)."""
    major = _file_version(soname or "")
    best = None
    for version in versions:
        if not version or not re.fullmatch(r"\d+(?:\.\d+)*", version):
            continue
        if major and version.split(".")[0] != major.split(".")[0]:
            continue
        if best is None or version.count(".") > best.count("."):
            best = version
    return best


def real_dir(host: Host, directory: str) -> Any:
    """Where to list a machine directory: the OS follows links itself on the real machine (a
    realpath costs an lstat per component); under a test root, links resolve within it."""
    return directory if host.root.as_posix() == "/" else host.path(resolve(host, directory))


def listing(directory: Any) -> list[str]:
    """At most MAX_DIR_ENTRIES names of a directory (a hostile one may hold millions)."""
    with os.scandir(directory) as entries:
        return [entry.name for entry in itertools.islice(entries, MAX_DIR_ENTRIES)]


def names(host: Host, directory: str) -> list[str]:
    try:
        return sorted(listing(real_dir(host, directory)))
    except OSError:
        return []
