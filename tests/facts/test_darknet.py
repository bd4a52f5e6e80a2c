"""Darknet's facts from real ELF files: a `darknet` and a `libdarknet.so` built here with gcc,
linked against libraries that are then deleted (what the loader cannot find is named)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from dldoctor.document.schema import report_schema
from dldoctor.facts.darknet import gather_darknet
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from tests.facts.test_interpreter import schema

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed here")

CUDART = "libcudart.so.11.0"
CUDNN = "libcudnn.so.8"
OPENCV = "libopencv_core.so.4.5d"


def _library(folder: Path, soname: str, symbol: str) -> Path:
    """A shared object named (and with the SONAME) ``soname`` defining ``int symbol(void)``."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{symbol}.c"
    source.write_text(f"int {symbol}(void) {{ return 0; }}\n")
    out = folder / soname
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(out), str(source)],
        check=True,
        timeout=120,
    )
    source.unlink()
    return out


def _darknet(
    out: Path, libraries: list[Path], shared: bool = False, runpath: str | None = None
) -> Path:
    """A `darknet` (or libdarknet.so) whose DT_NEEDED names each of ``libraries``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    calls = " + ".join(f"f_{lib.name.split('.')[0][3:]}()" for lib in libraries)
    decls = "".join(f"int f_{lib.name.split('.')[0][3:]}(void);\n" for lib in libraries)
    source = out.parent / "darknet.c"
    entry = "int darknet_run(void)" if shared else "int main(void)"
    source.write_text(f"{decls}{entry} {{ return {calls or '0'}; }}\n")
    argv = ["gcc", *(["-shared", "-fPIC"] if shared else []), "-o", str(out), str(source)]
    for lib in libraries:
        argv += [f"-L{lib.parent}", f"-l:{lib.name}"]
    if runpath:
        argv.append(f"-Wl,--enable-new-dtags,-rpath,{runpath}")
    subprocess.run(argv, check=True, timeout=120)
    source.unlink()
    return out


def _libs(folder: Path) -> list[Path]:
    return [
        _library(folder, CUDART, "f_cudart"),
        _library(folder, CUDNN, "f_cudnn"),
        _library(folder, OPENCV, "f_opencv_core"),
    ]


def _gather(env: dict[str, str]) -> dict:
    section = gather_darknet(Host(env={"HOME": "/nonexistent", **env}), LdCache(()), "x86_64")
    part = schema("packages")
    darknet = part["$defs"]["facts-packages"]["properties"]["darknet"]
    jsonschema.validate(section, {"$schema": part["$schema"], **darknet})
    return section


def test_a_gpu_build_in_darknet_home_names_the_libraries_that_were_deleted(tmp_path: Path) -> None:
    libs = _libs(tmp_path / "libs")
    home = tmp_path / "darknet"
    _darknet(home / "darknet", libs)
    for lib in libs[:2]:  # cudart and cuDNN deleted; OpenCV stays, on LD_LIBRARY_PATH
        lib.unlink()
    section = _gather({"DARKNET_HOME": str(home), "LD_LIBRARY_PATH": str(libs[2].parent)})
    (found,) = section["objects"]
    assert (found["path"], found["found_via"], found["kind"]) == (
        str(home / "darknet"),
        "DARKNET_HOME",
        "executable",
    )
    assert found["needed"][:3] == [CUDART, CUDNN, OPENCV] and "libc.so.6" in found["needed"]
    assert found["built_with"] == {
        "cuda_runtime": CUDART,
        "cublas": False,
        "cudnn": CUDNN,
        "opencv": [OPENCV],
    }
    # libc.so.6 is found in the default directories; the deleted two are not found anywhere.
    assert found["missing"] == [CUDART, CUDNN]
    assert str(home) in section["searched"]


def test_on_path_with_its_libraries_beside_it_through_runpath_nothing_is_missing(
    tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "bin"
    libs = _libs(bin_dir / "lib")
    _darknet(bin_dir / "darknet", libs, runpath="$ORIGIN/lib")
    section = _gather({"PATH": f"/nonexistent:{bin_dir}"})
    (found,) = section["objects"]
    assert (found["found_via"], found["missing"]) == ("PATH", [])
    libs[0].unlink()  # the same build once its CUDA runtime is gone
    (found,) = _gather({"PATH": str(bin_dir)})["objects"]
    assert found["missing"] == [CUDART]


def test_a_cpu_build_of_libdarknet_in_a_cmake_build_dir_needs_no_cuda(tmp_path: Path) -> None:
    home = tmp_path / "darknet"
    opencv = _library(tmp_path / "libs", OPENCV, "f_opencv_core")
    _darknet(home / "build" / "src-lib" / "libdarknet.so", [opencv], shared=True)
    section = _gather({"DARKNET_HOME": str(home), "LD_LIBRARY_PATH": str(opencv.parent)})
    (found,) = section["objects"]
    assert (found["kind"], found["missing"]) == ("library", [])
    assert found["built_with"]["cuda_runtime"] is False and found["built_with"]["cudnn"] is False


def test_a_symlink_to_the_same_binary_is_one_object_and_none_found_is_empty(
    tmp_path: Path,
) -> None:
    home = tmp_path / "darknet"
    _darknet(home / "darknet", [])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "darknet").symlink_to(home / "darknet")
    section = _gather({"PATH": str(bin_dir), "DARKNET_HOME": str(home)})
    assert [o["found_via"] for o in section["objects"]] == ["PATH"]
    assert _gather({"PATH": str(tmp_path / "empty")})["objects"] == []


def test_a_symlink_loop_named_darknet_is_skipped(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "darknet").symlink_to(bin_dir / "darknet")
    assert _gather({"PATH": str(bin_dir)})["objects"] == []


def test_a_darknet_that_is_no_elf_file_is_unknown_not_healthy(tmp_path: Path) -> None:
    home = tmp_path / "darknet"
    home.mkdir()
    (home / "darknet").write_text("#!/bin/sh\necho hostile \x1b[31m\n")
    (found,) = _gather({"DARKNET_HOME": str(home)})["objects"]
    assert found["needed"] is None and found["missing"] is None and found["error"]


def test_dldoctor_check_finds_a_darknet_that_cannot_start_and_says_why(tmp_path: Path) -> None:
    libs = _libs(tmp_path / "libs")
    home = tmp_path / "darknet"
    _darknet(home / "darknet", libs)
    for lib in libs:
        lib.unlink()
    report_path = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--quick", "--json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_environ(), "DARKNET_HOME": str(home)},
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, report_schema())
    (finding,) = [f for f in report["findings"] if f["code"] == "DD525"]
    assert finding["severity"] == "error"
    assert finding["evidence"]["missing"] == [CUDART, CUDNN, OPENCV]
    assert "Darknet" in finding["title"] and CUDART in finding["title"]
    assert "DD525" in run.stdout
    shown = f"darknet {home / 'darknet'} — GPU=1 ({CUDART}) CUDNN=1 OPENCV=1 · 3 needed libraries"
    assert shown in run.stdout


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
