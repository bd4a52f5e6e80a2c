"""Machine paths under a Host's root: resolve symlinks inside the root, map real paths back."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from dldoctor.facts.host import Host

_MAX_LINKS = 40  # what Linux allows in one lookup (MAXSYMLINKS)


def machine_path(host: Host, real: str) -> str:
    """The machine path of a real path (what ``host.which`` returns, or a path a script names).

    Under a test root ``/tmp/x``, ``/tmp/x/usr/bin/nvcc`` is the machine's ``/usr/bin/nvcc``; a
    path outside the root is taken to be a machine path already.
    """
    if host.root == Path("/"):
        return posixpath.normpath(real)
    root = host.root.as_posix().rstrip("/")
    real = posixpath.normpath(real)
    if real == root:
        return "/"
    if real.startswith(root + "/"):
        return real[len(root) :]
    return real


def resolve(host: Host, path: str) -> str:
    """``realpath`` of a machine path, following symlinks inside the host's root. Never raises.

    Absolute link targets mean the machine's root, as they would on the machine itself, so a
    copied tree with ``/usr/local/cuda -> /usr/local/cuda-12.4`` resolves within the copy.
    """
    if host.root == Path("/"):
        return os.path.realpath(path)
    pending = [p for p in path.split("/") if p]
    done = "/"
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            done = posixpath.dirname(done)
            continue
        candidate = posixpath.join(done, part)
        try:
            target = os.readlink(host.path(candidate))
        except OSError:  # not a link, or missing: keep the name as it is
            done = candidate
            continue
        links += 1
        if links > _MAX_LINKS:
            return posixpath.join(candidate, *pending)
        if target.startswith("/"):
            target = machine_path(host, target)
            done = "/"
        pending[:0] = [p for p in target.split("/") if p]
    return done


def read_text(host: Host, path: str, limit_bytes: int = 1 << 20) -> str | None:
    """``host.read_text`` of a machine path whose symlinks may point anywhere on the machine."""
    return host.read_text(resolve(host, path), limit_bytes)


def is_file(host: Host, path: str) -> bool:
    if host.root == Path("/"):  # stat follows the links itself (a realpath costs 30x more)
        return os.path.isfile(path)
    return host.path(resolve(host, path)).is_file()
