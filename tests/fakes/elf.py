"""Small real ELF shared objects built with gcc: a known SONAME, NEEDED, RPATH or RUNPATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

GCC = shutil.which("gcc")


def need_gcc() -> str:
    if GCC is None:
        pytest.skip("gcc is not installed: the ELF test libraries cannot be built")
    return GCC


def shared_object(
    path: Path,
    soname: str | None = None,
    runpath: str | None = None,
    rpath: str | None = None,
    links: tuple[Path, ...] = (),
) -> Path:
    """Build ``path`` from a one-function C file; ``links`` become DT_NEEDED (by their SONAME)."""
    gcc = need_gcc()
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.parent / f".{path.name}.c"
    source.write_text(f"int dldoctor_test_{abs(hash(path.name)) % 10**8}(void) {{ return 1; }}\n")
    argv = [gcc, "-shared", "-fPIC", "-o", str(path), str(source)]
    if soname:
        argv.append(f"-Wl,-soname,{soname}")
    if runpath:
        argv += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
    if rpath:
        argv += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{rpath}"]
    argv += ["-Wl,--no-as-needed", *map(str, links)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    source.unlink()
    return path


def link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path
