"""How extensions link to the installed torch: torch's C++ ABI, and the torch symbols each
compiled module imports that no library of the installed torch exports (read, never loaded)."""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from dldoctor.facts.elf import read_dynstr
from dldoctor.facts.elf_symbols import defines, read_symbols
from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import read_text, resolve

JSON = dict[str, Any]

MAX_TORCH_INIT_BYTES = 1 << 20
# torch's C++ namespaces (c10, at, torch, c10d; const members too): what an extension imports
# from torch's libraries, and what is missing when it was built against another torch.
TORCH_SYMBOLS = ("_ZN3c10", "_ZNK3c10", "_ZN2at", "_ZNK2at", "_ZN5torch", "_ZNK5torch",
                 "_ZN4c10d", "_ZNK4c10d")  # fmt: skip
MAX_TORCH_LIBS = 64
# torch 2.7+ returns a literal here; older releases returned torch._C._GLIBCXX_USE_CXX11_ABI.
_TORCH_ABI = re.compile(
    r"def compiled_with_cxx11_abi\(\)[^:]*:\s*(?:r?\"\"\"[\s\S]{0,400}?\"\"\"\s*)?return (True|False)\b"
)


def torch_abi(host: Host, torch: JSON | None) -> tuple[bool | None, str | None]:
    """Whether torch was built with _GLIBCXX_USE_CXX11_ABI=1, and which file said so."""
    if not torch:
        return None, None
    location = str(torch.get("location") or "")
    text = read_text(host, posixpath.join(location, "torch", "__init__.py"), MAX_TORCH_INIT_BYTES)
    match = _TORCH_ABI.search(text or "")
    if match:
        return match.group(1) == "True", "torch/__init__.py compiled_with_cxx11_abi()"
    libc10 = str(host.path(resolve(host, posixpath.join(location, "torch", "lib", "libc10.so"))))
    strings = read_dynstr(libc10)
    if strings is None:
        return None, None
    # libc10 takes and returns std::string everywhere: no std::__cxx11 there is the old ABI.
    return b"__cxx11" in strings, "torch/lib/libc10.so symbols"


def resolve_torch_symbols(host: Host, torch: JSON | None, installed: list[JSON]) -> None:
    """Each compiled module's torch symbols that no library of the installed torch exports
    (the "undefined symbol: _ZN3c10..." of its import), looked up in torch/lib's GNU hash
    tables; ``torch_symbols_missing`` stays None where it cannot be told."""
    linking = [(e, m) for e in installed for m in e.get("modules") or [] if m.get("links_torch")]
    if not linking or not torch:
        return
    lib_dir = posixpath.join(str(torch.get("location") or ""), "torch", "lib")
    try:
        names = sorted(os.listdir(host.path(resolve(host, lib_dir))))[:MAX_TORCH_LIBS]
    except OSError:
        return
    libs = [str(host.path(resolve(host, posixpath.join(lib_dir, n)))) for n in names if ".so" in n]
    for ext, module in linking:
        path = str(host.path(resolve(host, posixpath.join(str(ext["location"]), module["path"]))))
        symbols = read_symbols(path, TORCH_SYMBOLS)
        if symbols is None:
            continue
        missing = set(symbols[1])
        for lib in libs:
            if not missing:
                break
            found = defines(lib, frozenset(missing))
            if found is None:  # a library without a GNU hash table: nothing can be said
                missing = set()
                module["torch_symbols_missing"] = None
                break
            missing -= found
        else:
            module["torch_symbols_missing"] = {
                "count": len(missing),
                "examples": sorted(missing)[:3],
            }
