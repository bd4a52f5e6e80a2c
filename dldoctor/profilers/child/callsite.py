"""Where in the user's code a loader was built: the line a fix should change."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from types import FrameType

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Any


def _library_dirs() -> tuple[str, ...]:
    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    try:
        dirs.update(os.path.realpath(p) for p in site.getsitepackages())
        dirs.add(os.path.realpath(site.getusersitepackages()))
    except AttributeError:  # virtualenv's old site.py lacks them
        pass
    dirs.add(_DLDOCTOR_DIR)
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs)


_DLDOCTOR_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


_LIBRARY_DIRS: tuple[str, ...] | None = None
# Each code file's answer, once: realpath costs a stat per part of the path (~50 us on a
# site-packages file here), and the frame sampler asks for every frame it walks, ~100 times
# a second (uncached: ~0.3 ms of CPU per training step of a small model). Bounded: a script
# generating code may have any number of file names.
_KNOWN: dict[str, bool] = {}
_KNOWN_MAX = 4096


def _is_library(filename: str) -> bool:
    known = _KNOWN.get(filename)
    if known is not None:
        return known
    global _LIBRARY_DIRS
    if _LIBRARY_DIRS is None:
        _LIBRARY_DIRS = _library_dirs()
    if filename.startswith("<"):  # <frozen runpy>, <string>
        library = True
    else:
        library = os.path.realpath(filename).startswith(_LIBRARY_DIRS)
    if len(_KNOWN) < _KNOWN_MAX:
        _KNOWN[filename] = library
    return library


def find(owner: Any = None) -> dict[str, Any] | None:
    """The first caller frame in the user's own code (outside site-packages and the stdlib),
    skipping ``__init__`` frames of ``owner`` (a subclass calling ``super().__init__``).

    Falls back to the first frame outside the framework when everything is library code (a
    loader built by Lightning or Keras): that is still where the configuration comes from.
    """
    frame: FrameType | None = sys._getframe(1)
    fallback: FrameType | None = None
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        is_owner_init = code.co_name == "__init__" and frame.f_locals.get("self") is owner
        if not is_owner_init:
            if not _is_library(code.co_filename):
                return _describe(frame)
            if fallback is None and not _in_framework_or_dldoctor(code.co_filename):
                fallback = frame
        frame = frame.f_back
        depth += 1
    return _describe(fallback) if fallback is not None else None


_FRAMEWORKS = ("torch", "tensorflow", "keras", "paddle", "tf_keras")


def _in_framework_or_dldoctor(filename: str) -> bool:
    if os.path.realpath(filename).startswith(_DLDOCTOR_DIR + os.sep):
        return True
    parts = filename.replace("\\", "/").split("/")
    return any(p in _FRAMEWORKS for p in parts[-6:-1])


def _describe(frame: FrameType) -> dict[str, Any]:
    filename = _describe_path(frame.f_code.co_filename)
    return {"file": filename, "line": frame.f_lineno, "function": frame.f_code.co_name}


def _describe_path(filename: str) -> str:
    """The path relative to the working directory when it lies under it."""
    try:
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            return relative
    except ValueError:  # another drive (Windows)
        pass
    return filename
