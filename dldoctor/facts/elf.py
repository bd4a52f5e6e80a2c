"""The dynamic section of an ELF shared object (SONAME, NEEDED, RPATH, RUNPATH), read with struct.

Nothing is loaded or executed: the file's headers are read in bounded pieces, so a hostile or
truncated file yields ``None`` or a partial answer, never an exception or a huge read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

_MAGIC = b"\x7fELF"
_PT_DYNAMIC = 2
_PT_LOAD = 1
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH = 0, 1, 5, 10, 14, 15
_DT_RUNPATH = 29
_MAX_PHDRS = 256  # real objects have ~10; more is a malformed header
_MAX_DYNAMIC_ENTRIES = 4096  # libtorch_cuda.so has ~60
_MAX_STRING_BYTES = 64 * 1024  # one SONAME or RUNPATH: a few hundred bytes in practice


@dataclass(frozen=True)
class DynamicInfo:
    """What the dynamic loader reads from one object. Empty tuples when absent."""

    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]  # DT_RPATH, split on ':' (used only when there is no RUNPATH)
    runpath: tuple[str, ...]  # DT_RUNPATH, split on ':'
    machine: int  # e_machine: 62 x86-64, 183 aarch64


def read_dynamic(path: str) -> DynamicInfo | None:
    """The dynamic section of ``path``, or None when it is not a readable ELF shared object."""
    try:
        with open(path, "rb") as f:
            info = _parse(f)
    except (OSError, struct.error, ValueError):
        return None
    return info if isinstance(info, DynamicInfo) else None


def read_dynstr(path: str, limit_bytes: int = 8 << 20) -> bytes | None:
    """The dynamic string table (.dynstr: every imported and exported symbol name) of ``path``.

    None when it is not a readable ELF object or the table is larger than ``limit_bytes``: a
    CUDA extension of 400 MB of cubins has a .dynstr of a few hundred KB, read alone.
    """
    try:
        with open(path, "rb") as f:
            raw = _parse(f, dynstr_limit=limit_bytes)
    except (OSError, struct.error, ValueError):
        return None
    return raw if isinstance(raw, bytes) else None


@dataclass(frozen=True)
class Segments:
    """What an ELF file's header and program headers say: its class, byte order, machine, the
    loadable segments (vaddr, offset, filesz) and where its dynamic section is."""

    wide: bool
    order: str
    machine: int
    loads: tuple[tuple[int, int, int], ...]
    dynamic: tuple[int, int] | None


def segments(f: BinaryIO) -> Segments | None:
    """The file's segments, read from its start; None when it is not an ELF file we can read."""
    ident = f.read(16)
    if len(ident) < 16 or ident[:4] != _MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    wide = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    header = f.read(48 if wide else 36)
    if wide:
        _, machine, _, _, phoff, _, _, _, phentsize, phnum = struct.unpack(
            order + "HHIQQQIHHH", header[:42]
        )
    else:
        _, machine, _, _, phoff, _, _, _, phentsize, phnum = struct.unpack(
            order + "HHIIIIIHHH", header[:30]
        )
    if phnum > _MAX_PHDRS or phentsize < (56 if wide else 32):
        return None
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        raw = f.read(phentsize)
        if wide:
            p_type, _, offset, vaddr, _, filesz = struct.unpack(order + "IIQQQQ", raw[:40])
        else:
            p_type, offset, vaddr, _, filesz = struct.unpack(order + "IIIII", raw[:20])
        if p_type == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (offset, filesz)
    return Segments(wide, order, machine, tuple(loads), dynamic)


def _parse(f: BinaryIO, dynstr_limit: int | None = None) -> DynamicInfo | bytes | None:
    seen = segments(f)
    if seen is None:
        return None
    wide, order, machine, loads, dynamic = (
        seen.wide, seen.order, seen.machine, seen.loads, seen.dynamic,
    )  # fmt: skip
    if dynamic is None:
        return DynamicInfo(None, (), (), (), machine) if dynstr_limit is None else None
    entries = _entries(f, dynamic, wide, order)
    strtab = next((v for t, v in entries if t == _DT_STRTAB), None)
    strsz = next((v for t, v in entries if t == _DT_STRSZ), 0)
    if strtab is None:
        return None
    base = _file_offset(strtab, loads)
    if base is None:  # strings are read one at a time, each bounded: .dynstr size is no limit
        return None
    if dynstr_limit is not None:
        if strsz > dynstr_limit:
            return None
        f.seek(base)
        return f.read(strsz)

    def string(index: int) -> str:
        if index >= strsz:
            raise ValueError("string outside .dynstr")
        f.seek(base + index)
        raw = f.read(min(_MAX_STRING_BYTES, strsz - index))
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    def paths(tag: int) -> tuple[str, ...]:
        out: list[str] = []
        for t, v in entries:
            if t == tag:
                out.extend(p for p in string(v).split(":") if p)
        return tuple(out)

    soname = next((string(v) for t, v in entries if t == _DT_SONAME), None)
    needed = tuple(string(v) for t, v in entries if t == _DT_NEEDED)
    return DynamicInfo(soname, needed, paths(_DT_RPATH), paths(_DT_RUNPATH), machine)


def _entries(
    f: BinaryIO, dynamic: tuple[int, int], wide: bool, order: str
) -> list[tuple[int, int]]:
    offset, size = dynamic
    width = 16 if wide else 8
    count = min(size // width, _MAX_DYNAMIC_ENTRIES)
    f.seek(offset)
    raw = f.read(count * width)
    fmt = order + ("qQ" if wide else "iI")
    entries = []
    for i in range(len(raw) // width):
        tag, value = struct.unpack_from(fmt, raw, i * width)
        if tag == _DT_NULL:
            break
        entries.append((tag, value))
    return entries


def _file_offset(vaddr: int, loads: Sequence[tuple[int, int, int]]) -> int | None:
    """Where a virtual address lies in the file, through the PT_LOAD segment that maps it."""
    for start, offset, filesz in loads:
        if start <= vaddr < start + filesz:
            return vaddr - start + offset
    return None
