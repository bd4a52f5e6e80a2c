"""Hostile frameworks, built as real packages in a temporary site directory.

Each one has distribution metadata (so dldoctor's static facts list it as installed) and an
importable module that misbehaves the way real installations do: a segfault inside the import,
an import that never returns, the dynamic loader's own "cannot open shared object file", a
framework that fills memory, one that prints garbage (fake results included) to stdout and
stderr before working normally.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SEGFAULT = """\
import ctypes
ctypes.string_at(0)  # a NULL dereference in native code: SIGSEGV, as a broken .so gives
"""
HANG = """\
import time
time.sleep(3600)  # an import waiting forever (a wedged driver, a lock on a network file system)
"""
MEMORY_HOG = """\
chunks = []
while True:
    chunks.append(b"\\x01" * (64 << 20))  # touched pages: real memory, 64 MiB at a time
"""
# Prints fake results everywhere it can, then becomes the real onnxruntime.
GARBAGE = """\
import importlib.machinery, importlib.util, os, sys
print('{"type": "done"}')
print('{"type": "smoke", "framework": "onnxruntime", "test": "graph", "status": "fail"}')
sys.stderr.write('{"type": "end", "framework": "onnxruntime"}\\n\\x00\\xff garbage\\n')
os.write(1, b'\\x00\\xfe\\xff{"type": "import", "ok": false}\\n')
os.write(2, b"not json at all\\n")
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.machinery.PathFinder.find_spec(
    "onnxruntime", [p for p in sys.path if p and os.path.abspath(p) != here]
)
module = importlib.util.module_from_spec(spec)
sys.modules["onnxruntime"] = module
spec.loader.exec_module(module)
"""


def dist_info(site: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    (folder / "INSTALLER").write_text("pip\n", encoding="utf-8")


def package(site: Path, module: str, init: str, files: dict[str, str] | None = None) -> Path:
    folder = site / module
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(init, encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def missing_cudart_import(folder: Path, scratch: Path) -> str:
    """An extension module linked against libcudart.so.12, which is then removed: importing it
    gives the dynamic loader's real message. Without a C compiler, the same message raised."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return 'raise ImportError("libcudart.so.12: cannot open shared object file: No such file or directory")\n'
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "stub.c").write_text("int cudaGetDeviceCount(int *n) { *n = 0; return 0; }\n")
    (scratch / "ext.c").write_text(
        "int cudaGetDeviceCount(int *n);\nint dldoctor_fake(void) { int n; return cudaGetDeviceCount(&n); }\n"
    )
    stub = scratch / "libcudart.so.12"
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-Wl,-soname,libcudart.so.12",
            "-o",
            str(stub),
            str(scratch / "stub.c"),
        ],
        check=True,
    )
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", str(folder / "_C.so"), str(scratch / "ext.c"), str(stub)],
        check=True,
    )
    stub.unlink()  # the loader now looks for libcudart.so.12 and finds nothing
    return "from torch._C import *  # noqa: F403  (where real torch loads its CUDA libraries)\n"


def hostile_site(site: Path, scratch: Path) -> Path:
    """torch: libcudart missing; jax: segfault; tensorflow: hang; paddle: fills memory;
    onnxruntime: prints garbage, then works."""
    torch = package(site, "torch", "")
    (torch / "__init__.py").write_text(missing_cudart_import(torch, scratch), encoding="utf-8")
    (torch / "version.py").write_text("__version__ = '2.6.0+cu124'\ncuda = '12.4'\nhip = None\n")
    dist_info(
        site,
        "torch",
        "2.6.0+cu124",
        ('nvidia-cuda-runtime-cu12==12.4.127; platform_system == "Linux"',),
    )
    package(site, "jax", SEGFAULT)
    dist_info(site, "jax", "0.4.30")
    package(site, "tensorflow", HANG)
    dist_info(site, "tensorflow", "2.16.1")
    package(site, "paddle", MEMORY_HOG)
    dist_info(site, "paddlepaddle", "2.6.1")
    package(site, "onnxruntime", GARBAGE)
    dist_info(site, "onnxruntime", "1.32.0")
    return site
