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
    calls: tuple[str, ...] = (),
    defines: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> Path:
    """Build ``path`` from a one-function C file; ``links`` become DT_NEEDED (by their SONAME).

    ``calls`` are symbols it imports (undefined, resolved at load time: a mangled C++ name such
    as ``_ZN3c104cuda9SetDeviceEi`` is a valid C identifier); ``defines`` are symbols it exports.
    """
    gcc = need_gcc()
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.parent / f".{path.name}.c"
    body = "".join(f"extern int {name}(void);\n" for name in calls)
    body += "".join(f"int {name}(void) {{ return 0; }}\n" for name in defines)
    uses = " + ".join(f"{name}()" for name in calls) or "1"
    body += f"int dldoctor_test_{abs(hash(path.name)) % 10**8}(void) {{ return {uses}; }}\n"
    source.write_text(body)
    argv = [gcc, "-shared", "-fPIC", "-o", str(path), str(source)]
    if soname:
        argv.append(f"-Wl,-soname,{soname}")
    if runpath:
        argv += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
    if rpath:
        argv += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{rpath}"]
    argv += [*flags, "-Wl,--no-as-needed", *map(str, links)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    source.unlink()
    return path


def link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path
