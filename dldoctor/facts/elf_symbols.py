"""Dynamic symbols of an ELF object: which names it imports and exports, read without loading it.

Used to tell, before any import, whether a torch extension's imported c10::/at::/torch:: symbols
exist in the installed torch's libraries. Bounded like dldoctor/facts/elf.py: a hostile or
truncated file yields None, never an exception or a huge read.
"""

from __future__ import annotations

import array
import re
import struct
import sys
from typing import Any, BinaryIO

from dldoctor.facts.elf import (
    _DT_STRTAB,
    _MAGIC,
    _entries,
    _file_offset,
    segments,
)

_SHT_DYNSYM = 11
_STB_WEAK = 2
_MAX_SECTIONS = 4096


def read_symbols(
    path: str, prefixes: tuple[str, ...], limit_bytes: int = 64 << 20
) -> tuple[frozenset[str], frozenset[str]] | None:
    """(defined, undefined) dynamic symbols of ``path`` whose names start with ``prefixes``.

    Weak undefined symbols are left out (a missing one does not stop the load). Read through
    the section headers (.dynsym and its string table), bounded by ``limit_bytes`` each; None
    when the file is not a readable ELF object or its tables are larger.
    """
    try:
        with open(path, "rb") as f:
            return _symbols(f, tuple(p.encode() for p in prefixes), limit_bytes)
    except (OSError, struct.error, ValueError):
        return None


def _symbols(
    f: BinaryIO, prefixes: tuple[bytes, ...], limit: int
) -> tuple[frozenset[str], frozenset[str]] | None:
    ident = f.read(16)
    if len(ident) < 16 or ident[:4] != _MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    wide = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    header = f.read(48 if wide else 36)
    fields = struct.unpack(order + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"), header)
    shoff, shentsize, shnum = fields[5], fields[10], fields[11]
    if not shoff or shnum > _MAX_SECTIONS or shentsize < (64 if wide else 40):
        return None
    sections = []
    for i in range(shnum):
        f.seek(shoff + i * shentsize)
        raw = f.read(64 if wide else 40)
        if wide:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack(
                order + "IIQQQQIIQQ", raw
            )
        else:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack(
                order + "IIIIIIIIII", raw
            )
        sections.append((kind, offset, size, link, entsize))
    dynsym = next((s for s in sections if s[0] == _SHT_DYNSYM), None)
    if dynsym is None or dynsym[3] >= len(sections):
        return None
    _, offset, size, link, entsize = dynsym
    _, str_offset, str_size, _, _ = sections[link]
    if size > limit or str_size > limit or entsize < (24 if wide else 16):
        return None
    f.seek(offset)
    table = f.read(size)
    f.seek(str_offset)
    strings = f.read(str_size)
    # The names with those prefixes, by their offset in the string table: one regex pass over
    # it, then a set lookup per symbol (libtorch_cpu.so: 75,000 symbols, 5 MB of names).
    pattern = re.compile(b"\\0((?:" + b"|".join(re.escape(p) for p in prefixes) + b")[^\\0]*)")
    names = {m.start(1): m.group(1) for m in pattern.finditer(strings)}
    defined: set[str] = set()
    undefined: set[str] = set()
    for name, info, shndx in _entries_of(table, entsize, wide, order, names.keys()):
        text = names[name].decode("utf-8", errors="replace")
        if shndx != 0:
            defined.add(text)
        elif info >> 4 != _STB_WEAK:
            undefined.add(text)
    return frozenset(defined), frozenset(undefined)


def _entries_of(
    table: bytes, entsize: int, wide: bool, order: str, wanted: Any
) -> list[tuple[int, int, int]]:
    """(st_name, st_info, st_shndx) of each symbol: sliced as 32-bit words where the file is
    little-endian like this machine (libtorch_cpu.so has ~75,000 symbols), else unpacked."""
    if order == "<" and sys.byteorder == "little" and entsize % 4 == 0:
        words = array.array("I")
        words.frombytes(table[: len(table) // entsize * entsize])
        step = entsize // 4
        meta = words[1::step] if wide else words[3::step]  # info | other << 8 | shndx << 16
        return [(n, m & 0xFF, m >> 16) for n, m in zip(words[0::step], meta) if n in wanted]
    fmt = order + ("IBBH" if wide else "I8xBBH")
    out = []
    for start in range(0, len(table) - entsize + 1, entsize):
        name, info, _, shndx = struct.unpack_from(fmt, table, start)
        if name in wanted:
            out.append((name, info, shndx))
    return out


_DT_SYMTAB, _DT_SYMENT, _DT_GNU_HASH = 6, 11, 0x6FFFFEF5
_MAX_CHAIN = 4096  # symbols sharing one hash bucket: a handful in real objects


def defines(path: str, names: frozenset[str]) -> frozenset[str] | None:
    """Which of ``names`` ``path`` exports, looked up in its GNU hash table (a few small reads
    per name, not its whole symbol table); None when it has no such table or cannot be read."""
    try:
        with open(path, "rb") as f:
            return _gnu_lookup(f, names)
    except (OSError, struct.error, ValueError, IndexError):
        return None


def _gnu_lookup(f: BinaryIO, names: frozenset[str]) -> frozenset[str] | None:
    seen = segments(f)
    if seen is None or seen.dynamic is None:
        return None
    wide, order, loads, dynamic = seen.wide, seen.order, seen.loads, seen.dynamic
    tags = dict(_entries(f, dynamic, wide, order))
    where = {
        t: _file_offset(tags[t], loads) for t in (_DT_GNU_HASH, _DT_SYMTAB, _DT_STRTAB) if t in tags
    }
    if len(where) < 3:
        return None
    gnu, symtab, strtab = where[_DT_GNU_HASH], where[_DT_SYMTAB], where[_DT_STRTAB]
    if gnu is None or symtab is None or strtab is None:
        return None
    syment = tags.get(_DT_SYMENT, 24 if wide else 16)
    f.seek(gnu)
    nbuckets, symoffset, bloom_size, _ = struct.unpack(order + "IIII", f.read(16))
    if not nbuckets:
        return frozenset()
    buckets_at = gnu + 16 + bloom_size * (8 if wide else 4)
    chain_at = buckets_at + nbuckets * 4
    found = set()
    for name in names:
        raw = name.encode()
        h = 5381
        for c in raw:
            h = (h * 33 + c) & 0xFFFFFFFF
        f.seek(buckets_at + (h % nbuckets) * 4)
        (index,) = struct.unpack(order + "I", f.read(4))
        for _ in range(_MAX_CHAIN if index else 0):
            f.seek(chain_at + (index - symoffset) * 4)
            (chained,) = struct.unpack(order + "I", f.read(4))
            if (chained | 1) == (h | 1) and _symbol_is(
                f, symtab + index * syment, strtab, raw, wide, order
            ):
                found.add(name)
                break
            if chained & 1:
                break
            index += 1
    return frozenset(found)


def _symbol_is(f: BinaryIO, at: int, strtab: int, name: bytes, wide: bool, order: str) -> bool:
    """Whether the symbol at file offset ``at`` is ``name``, defined (not an undefined import)."""
    f.seek(at)
    if wide:
        st_name, _, _, shndx = struct.unpack(order + "IBBH", f.read(8))
    else:
        st_name, _, _, _, _, shndx = struct.unpack(order + "IIIBBH", f.read(16))
    f.seek(strtab + st_name)
    return shndx != 0 and f.read(len(name) + 1) == name + b"\0"
