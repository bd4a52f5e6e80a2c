"""What the parent adds to a probe record: each mapped library's key and SONAME (real ELF files
read here), and the failed loads the failure signatures name."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dldoctor.probes.collect import new_record
from dldoctor.probes.loads import annotate, failed_loads


def _elf(folder: Path, soname: str, name: str) -> Path:
    """A real shared object with a SONAME, built with the C compiler (none: skipped)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a shared object")
    (folder / "x.c").write_text("int dldoctor_x(void) { return 1; }\n")
    path = folder / name
    subprocess.run(
        [cc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(path), str(folder / "x.c")],
        check=True,
    )
    return path


def test_each_mapped_library_gets_its_key_and_the_soname_its_file_declares(matrix, tmp_path):
    real = _elf(tmp_path, "libcublasLt.so.12", "libcublasLt.so.12.4.5.8")
    record = new_record()
    record["libraries"] = [
        {"name": real.name, "path": str(real), "version": "12.4.5.8", "source": "system"},
        {"name": "libcudnn_ops.so.9", "path": str(tmp_path / "gone.so.9"), "version": "9"},
        {"name": "libcudart-e409450e.so.11.0", "path": "relative/libcudart.so", "version": None},
    ]
    record["versions"] = {"cublaslt": {"built": "12.4", "runtime": None, "how": "x"}}
    annotate(record, matrix)
    libs = record["libraries"]
    assert [(lib["library"], lib["soname"]) for lib in libs] == [
        ("cublaslt", "libcublasLt.so.12"),
        ("cudnn_ops", None),  # the file is gone: its SONAME unknown
        ("cudart", None),  # a bundled, renamed copy is still cudart; a relative path is not read
    ]
    assert record["versions"]["cublaslt"]["loaded"] == {"path": str(real), "version": "12.4.5.8"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_library_is_never_opened(matrix, tmp_path):
    fifo = tmp_path / "libcudart.so.12"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    record = new_record()
    record["libraries"] = [{"name": fifo.name, "path": str(fifo)}]
    annotate(record, matrix)
    assert record["libraries"][0]["soname"] is None


def test_failed_loads_are_the_libraries_the_framework_said_it_could_not_load(matrix):
    record = new_record()
    record["import"] = {
        "module": "torch",
        "ok": False,
        "error": {
            "type": "ImportError",
            "message": "libcudnn.so.9: cannot open shared object file: No such file or directory",
            "traceback": [],
        },
    }
    record["output"] = [
        "W tensorflow/tsl/platform/default/dso_loader.cc:66] Could not load dynamic library "
        "'libcublasLt.so.12'; dlerror: libcublasLt.so.12: cannot open shared object file: No "
        "such file or directory",
        "/env/site-packages/nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: "
        "__nvJitLinkComplete_12_4, version libnvJitLink.so.12",
        "libcudnn.so.9: cannot open shared object file: No such file or directory",  # again
        "cuDNN version: 8902",  # a version, not a failure
    ]
    found = failed_loads(record, matrix)
    assert [(f["library"], f["where"]) for f in found] == [
        ("libcudnn.so.9", "import"),
        ("libcublasLt.so.12", "output"),
        ("libcusparse.so.12", "output"),
    ]
    assert found[1]["dlerror"].startswith("libcublasLt.so.12: cannot open shared object file")
    assert found[2]["provider"] == "libnvJitLink.so.12"
    assert found[2]["symbol"] == "__nvJitLinkComplete_12_4"
    assert all(f["error"] and f["signature"] for f in found)


def test_a_record_that_said_nothing_failed_has_no_failed_loads(matrix):
    record = new_record()
    record["output"] = [
        "I external/xla/xla/stream_executor/cuda/cuda_dnn.cc:529] Loaded cuDNN version 90300"
    ]
    assert failed_loads(record, matrix) == []
