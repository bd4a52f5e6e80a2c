"""The dynamic linker's cache (``ldconfig -p``): which shared libraries the system would load."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dldoctor.facts.host import Host

# "	libcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9"
_LINE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*)$")
_FALLBACKS = ("/sbin/ldconfig", "/usr/sbin/ldconfig")


@dataclass(frozen=True)
class LdCache:
    """Entries of the cache, or the reason there are none (``error``)."""

    entries: tuple[tuple[str, str], ...]  # (soname, path), in the cache's own order
    error: str = ""

    def find(self, prefix: str) -> list[str]:
        """Paths of every library whose soname starts with ``prefix`` (``libcudnn.so``)."""
        return [path for soname, path in self.entries if soname.startswith(prefix)]


def read_ldcache(host: Host) -> LdCache:
    """Run ``ldconfig -p`` with the host's timeout. Debian keeps it in /sbin, off a user's PATH."""
    exe = host.which("ldconfig")
    if exe is None:
        exe = next(
            (p for p in _FALLBACKS if host.path(p).exists() and host.root.as_posix() == "/"), None
        )
    if exe is None:
        return LdCache((), error="ldconfig not found")
    result = host.run([exe, "-p"])
    if not result.ok:
        return LdCache((), error=result.describe_failure())
    entries = []
    for line in result.stdout.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append((match.group(1), match.group(3).strip()))
    return LdCache(tuple(entries))
