"""The ELF dynamic-section reader: gcc-built objects, this machine's real libraries, hostile files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dldoctor.facts.elf import read_dynamic
from tests.fakes.elf import shared_object

TOOLKIT = Path("/usr/local/cuda-13.0")


def _site_packages() -> Path | None:
    import sysconfig

    path = Path(sysconfig.get_paths()["purelib"])
    return path if path.is_dir() else None


def test_soname_runpath_and_needed_of_a_gcc_built_library(tmp_path: Path) -> None:
    cudnn = shared_object(tmp_path / "libcudnn.so.9", soname="libcudnn.so.9")
    anchor = shared_object(
        tmp_path / "libtorch_cuda.so",
        soname="libtorch_cuda.so",
        runpath="$ORIGIN/../../nvidia/cudnn/lib:$ORIGIN",
        links=(cudnn,),
    )
    info = read_dynamic(str(anchor))
    assert info is not None
    assert info.soname == "libtorch_cuda.so"
    assert info.runpath == ("$ORIGIN/../../nvidia/cudnn/lib", "$ORIGIN")
    assert info.rpath == ()
    assert "libcudnn.so.9" in info.needed


def test_old_style_rpath_is_told_apart_from_runpath(tmp_path: Path) -> None:
    info = read_dynamic(str(shared_object(tmp_path / "libold.so", rpath="/opt/cudnn/lib")))
    assert info is not None and info.rpath == ("/opt/cudnn/lib",) and info.runpath == ()
    assert info.soname is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x7fELF",
        b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\xff" * 48,  # absurd program-header count
        b"not an ELF file at all\n" * 10,
        os.urandom(4096),
    ],
)
def test_hostile_or_truncated_files_are_none_never_an_exception(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "libcudnn.so.9"
    path.write_bytes(content)
    assert read_dynamic(str(path)) is None or read_dynamic(str(path)).soname is None


def test_a_truncated_real_library_is_not_read_past_its_end(tmp_path: Path) -> None:
    whole = shared_object(tmp_path / "libx.so", soname="libx.so.1").read_bytes()
    for cut in (64, 200, len(whole) // 2):
        part = tmp_path / f"cut{cut}.so"
        part.write_bytes(whole[:cut])
        info = read_dynamic(str(part))
        assert info is None or info.soname in (None, "libx.so.1")


def test_real_paddle_wheel_looks_for_cuda_libraries_in_the_nvidia_wheels() -> None:
    site = _site_packages()
    library = site / "paddle" / "base" / "libpaddle.so" if site else None
    if library is None or not library.is_file():
        pytest.skip("paddlepaddle is not installed in this interpreter")
    info = read_dynamic(str(library))
    assert info is not None and info.soname == "libpaddle.so"
    assert "$ORIGIN/../../nvidia/cudnn/lib" in info.runpath


def test_real_torch_cpu_wheel_has_runpath_origin() -> None:
    site = _site_packages()
    library = site / "torch" / "lib" / "libtorch_cpu.so" if site else None
    if library is None or not library.is_file():
        pytest.skip("torch is not installed in this interpreter")
    info = read_dynamic(str(library))
    assert info is not None and info.soname == "libtorch_cpu.so" and info.runpath == ("$ORIGIN",)


def test_real_cuda_13_toolkit_runtime_soname() -> None:
    library = TOOLKIT / "lib64" / "libcudart.so.13"
    if not library.is_file():
        pytest.skip(f"no CUDA 13.0 toolkit at {TOOLKIT}")
    info = read_dynamic(str(library))
    assert info is not None and info.soname == "libcudart.so.13"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x7fELF", b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\xff" * 48, os.urandom(4096)],
)
def test_symbol_readers_on_hostile_files_answer_none(tmp_path: Path, content: bytes) -> None:
    from dldoctor.facts.elf import read_dynstr
    from dldoctor.facts.elf_symbols import defines, read_symbols

    path = tmp_path / "libc10.so"
    path.write_bytes(content)
    assert read_symbols(str(path), ("_ZN3c10",)) in (None, (frozenset(), frozenset()))
    assert defines(str(path), frozenset({"_ZN3c105ErrorD0Ev"})) in (None, frozenset())
    assert read_dynstr(str(path)) in (None, b"")


def test_symbol_readers_on_truncated_copies_never_raise(tmp_path: Path) -> None:
    from dldoctor.facts.elf_symbols import defines, read_symbols

    whole = shared_object(tmp_path / "libc10.so", defines=("_ZN3c10a", "_ZN3c10b")).read_bytes()
    for cut in (64, 300, len(whole) // 3, len(whole) // 2, len(whole) - 16):
        part = tmp_path / f"cut{cut}.so"
        part.write_bytes(whole[:cut])
        read_symbols(str(part), ("_ZN3c10",))
        defines(str(part), frozenset({"_ZN3c10a"}))
    assert defines(str(tmp_path / "libc10.so"), frozenset({"_ZN3c10a", "_ZN3c10z"})) == {"_ZN3c10a"}
    assert read_symbols(str(tmp_path / "libc10.so"), ("_ZN3c10",)) == (
        frozenset({"_ZN3c10a", "_ZN3c10b"}),
        frozenset(),
    )


def test_real_libc10_symbols_are_found_through_its_gnu_hash_table() -> None:
    from dldoctor.facts.elf_symbols import defines, read_symbols

    site = _site_packages()
    lib = site / "torch" / "lib" / "libc10.so" if site else None
    if lib is None or not lib.is_file():
        pytest.skip("torch is not installed here")
    defined, _ = read_symbols(str(lib), ("_ZN3c10",)) or (frozenset(), frozenset())
    sample = frozenset(sorted(defined)[:50])
    assert len(defined) > 100 and defines(str(lib), sample) == sample
