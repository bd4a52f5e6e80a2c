"""The library map: gcc-built libraries with known SONAMEs and RUNPATHs under a fake root, then
this machine's real wheels (torch/lib, paddle/base) and CUDA 13.0 toolkit."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from dldoctor.facts.conda import gather_conda
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache, read_ldcache
from dldoctor.facts.libmap import gather_library_map
from dldoctor.matrix import load
from tests.fakes.elf import link, shared_object
from tests.fakes.fsroot import write

SITE = "/env/lib/python3.11/site-packages"
OLD = "/opt/cudnn-9.0/lib"


def libmap(root: Path, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    table = load().tables["libraries"]
    host = Host(root=root, env={"PATH": "", **(env or {})})
    args: dict[str, Any] = {"ldcache": LdCache(()), "architecture": "x86_64", **kwargs}
    return gather_library_map(host, table["library"], table["anchor"], [SITE], **args)


def cudnn_header(root: Path, include: str, version: str) -> None:
    major, minor, patch = version.split(".")
    write(
        root,
        f"{include}/cudnn_version.h",
        f"#define CUDNN_MAJOR {major}\n#define CUDNN_MINOR {minor}\n#define CUDNN_PATCHLEVEL {patch}\n",
    )


def torch_wheel(root: Path, runpath: str = "$ORIGIN/../../nvidia/cudnn/lib:$ORIGIN") -> None:
    """torch/lib/libtorch_cuda.so needing libcudnn.so.9, the cuDNN wheel 9.1.0, an old 9.0.0."""
    site = root / SITE.lstrip("/")
    wheel = shared_object(site / "nvidia/cudnn/lib/libcudnn.so.9", soname="libcudnn.so.9")
    cudnn_header(root, f"{SITE}/nvidia/cudnn/include", "9.1.0")
    shared_object(
        site / "torch/lib/libtorch_cuda.so",
        soname="libtorch_cuda.so",
        runpath=runpath,
        links=(wheel,),
    )
    shared_object(root / OLD.lstrip("/") / "libcudnn.so.9.0.0", soname="libcudnn.so.9")
    link(root / OLD.lstrip("/") / "libcudnn.so.9", "libcudnn.so.9.0.0")


def cudnn_of(result: dict[str, Any], framework: str = "torch") -> dict[str, Any]:
    return result["frameworks"][framework]["libraries"]["cudnn"]


def test_runpath_origin_finds_the_cudnn_wheel(tmp_path: Path) -> None:
    torch_wheel(tmp_path)
    result = libmap(tmp_path)
    torch = result["frameworks"]["torch"]
    assert torch["anchor"] == f"{SITE}/torch/lib/libtorch_cuda.so"
    assert torch["needed"] == ["libcudnn.so.9"]
    assert torch["search"][0] == {"dir": f"{SITE}/nvidia/cudnn/lib", "via": "runpath"}
    picked = cudnn_of(result)["candidates"][0]
    assert cudnn_of(result)["requested"] == "libcudnn.so.9"
    assert (picked["path"], picked["version"], picked["via"]) == (
        f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9",
        "9.1.0",  # the header beside the wheel's lib/ is more precise than the SONAME
        "runpath",
    )
    kinds = {c["path"]: c["kind"] for c in result["copies"]["cudnn"]}
    assert kinds[f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"] == "pip-wheel"


def test_ld_library_path_is_searched_before_runpath(tmp_path: Path) -> None:
    torch_wheel(tmp_path)
    candidates = cudnn_of(libmap(tmp_path, {"LD_LIBRARY_PATH": OLD}))["candidates"]
    assert [(c["path"], c["version"], c["via"]) for c in candidates] == [
        (f"{OLD}/libcudnn.so.9", "9.0.0", "LD_LIBRARY_PATH"),
        (f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", "9.1.0", "runpath"),
    ]


def test_old_style_rpath_is_searched_before_ld_library_path(tmp_path: Path) -> None:
    site = tmp_path / SITE.lstrip("/")
    wheel = shared_object(site / "nvidia/cudnn/lib/libcudnn.so.9", soname="libcudnn.so.9")
    shared_object(
        site / "torch/lib/libtorch_cuda.so", rpath="$ORIGIN/../../nvidia/cudnn/lib", links=(wheel,)
    )
    shared_object(tmp_path / OLD.lstrip("/") / "libcudnn.so.9", soname="libcudnn.so.9")
    result = libmap(tmp_path, {"LD_LIBRARY_PATH": OLD})
    assert [c["via"] for c in cudnn_of(result)["candidates"]] == ["rpath", "LD_LIBRARY_PATH"]


def test_bundled_copy_inside_the_framework_package_wins_through_origin(tmp_path: Path) -> None:
    site = tmp_path / SITE.lstrip("/")
    bundled = shared_object(site / "torch/lib/libcudnn.so.8", soname="libcudnn.so.8")
    shared_object(site / "torch/lib/libtorch_cuda.so", runpath="$ORIGIN", links=(bundled,))
    shared_object(tmp_path / "usr/lib/x86_64-linux-gnu/libcudnn.so.8.2.1", soname="libcudnn.so.8")
    link(tmp_path / "usr/lib/x86_64-linux-gnu/libcudnn.so.8", "libcudnn.so.8.2.1")
    cache = LdCache((("libcudnn.so.8", "/usr/lib/x86_64-linux-gnu/libcudnn.so.8"),))
    result = libmap(tmp_path, ldcache=cache)
    candidates = cudnn_of(result)["candidates"]
    assert [(c["path"], c["via"]) for c in candidates] == [
        (f"{SITE}/torch/lib/libcudnn.so.8", "runpath"),
        ("/usr/lib/x86_64-linux-gnu/libcudnn.so.8", "ldconfig"),
    ]
    assert candidates[1]["version"] == "8.2.1"  # from the real file's name behind the link
    kinds = {c["path"]: c["kind"] for c in result["copies"]["cudnn"]}
    assert kinds[f"{SITE}/torch/lib/libcudnn.so.8"] == "framework-package"


def test_conda_python_rpath_puts_the_environment_lib_first(tmp_path: Path) -> None:
    """conda's python has DT_RPATH $ORIGIN/../lib; an object without RUNPATH inherits it."""
    prefix = "/conda/envs/tf"
    env_site = f"{prefix}/lib/python3.10/site-packages"
    root_prefix = tmp_path / prefix.lstrip("/")
    shared_object(root_prefix / "bin/python", rpath="$ORIGIN/../lib")
    shared_object(root_prefix / "lib/libcudnn.so.8", soname="libcudnn.so.8")
    shared_object(tmp_path / env_site.lstrip("/") / "tensorflow/libtensorflow_framework.so.2")
    shared_object(tmp_path / OLD.lstrip("/") / "libcudnn.so.8", soname="libcudnn.so.8")
    record = {
        "name": "cudnn",
        "version": "8.9.2.26",
        "build": "cuda11_0",
        "files": ["lib/libcudnn.so.8"],
    }
    write(tmp_path, f"{prefix}/conda-meta/cudnn-8.9.2.26-cuda11_0.json", json.dumps(record))
    host = Host(root=tmp_path, env={"PATH": "", "LD_LIBRARY_PATH": OLD})
    table = load().tables["libraries"]
    result = gather_library_map(
        host,
        table["library"],
        table["anchor"],
        [env_site],
        LdCache(()),
        conda=gather_conda(host, prefix),
        executable=f"{prefix}/bin/python",
        architecture="x86_64",
    )
    candidates = cudnn_of(result, "tensorflow")["candidates"]
    assert [(c["path"], c["via"], c["version"]) for c in candidates] == [
        (
            f"{prefix}/lib/libcudnn.so.8",
            "executable rpath",
            "8.9.2.26",
        ),  # the conda record's version
        (f"{OLD}/libcudnn.so.8", "LD_LIBRARY_PATH", "8"),
    ]
    assert {c["kind"] for c in result["copies"]["cudnn"]} == {"conda-env", "LD_LIBRARY_PATH"}


def test_no_anchor_no_framework_entry_and_hostile_files_are_skipped(tmp_path: Path) -> None:
    site = tmp_path / SITE.lstrip("/")
    (site / "torch/lib").mkdir(parents=True)
    (site / "torch/lib/libtorch_cuda.so").write_bytes(b"\x7fELF garbage")
    (site / "nvidia/cudnn/lib").mkdir(parents=True)
    (site / "nvidia/cudnn/lib/libcudnn.so.9").write_bytes(b"nope")
    result = libmap(tmp_path)
    assert result["frameworks"]["torch"]["error"] == "not a readable ELF shared object"
    assert result["copies"]["cudnn"][0]["soname"] is None
    assert "paddle" not in result["frameworks"]


def test_real_wheels_and_toolkit_of_this_machine() -> None:
    site = sysconfig.get_paths()["purelib"]
    toolkit = "/usr/local/cuda-13.0"
    host = Host()
    table = load().tables["libraries"]
    result = gather_library_map(
        host,
        table["library"],
        table["anchor"],
        [site],
        read_ldcache(host),
        [toolkit],
        architecture="x86_64",
    )
    if "paddle" in result["frameworks"]:
        paddle = result["frameworks"]["paddle"]
        dirs = [s["dir"] for s in paddle["search"]]
        assert f"{site}/nvidia/cudnn/lib" in dirs and f"{site}/paddle/libs" in dirs
    if "torch" in result["frameworks"]:
        assert result["frameworks"]["torch"]["search"][0] == {
            "dir": f"{site}/torch/lib",
            "via": "runpath",
        }
    if not Path(toolkit, "lib64/libcudart.so.13").is_file():
        pytest.skip(f"no CUDA 13.0 toolkit at {toolkit}")
    cudart = [c for c in result["copies"]["cudart"] if c["real"].startswith(toolkit)]
    assert cudart and cudart[0]["soname"] == "libcudart.so.13" and cudart[0]["version"] == "13.0"


def test_fifo_and_dangling_link_named_like_libraries_are_skipped(tmp_path: Path) -> None:
    import os

    torch_wheel(tmp_path)
    old = tmp_path / OLD.lstrip("/")
    (old / "libcudnn.so.9").unlink()
    os.mkfifo(old / "libcudnn.so.9")
    link(old / "libcudnn.so.9.9", "missing")
    candidates = cudnn_of(libmap(tmp_path, {"LD_LIBRARY_PATH": OLD}))["candidates"]
    assert [c["via"] for c in candidates] == ["runpath"]  # never opened: it would block


# Every CUDA library a framework loads (issue #11: the scan covers them all, not five).
LOADED_BY_FRAMEWORKS = {
    "cudart": ("cuda_runtime", "libcudart.so.12"),
    "cublas": ("cublas", "libcublas.so.12"),
    "cublaslt": ("cublas", "libcublasLt.so.12"),
    "cudnn": ("cudnn", "libcudnn.so.9"),
    "cudnn_graph": ("cudnn", "libcudnn_graph.so.9"),
    "cudnn_cnn": ("cudnn", "libcudnn_cnn.so.9"),
    "cudnn_engines_precompiled": ("cudnn", "libcudnn_engines_precompiled.so.9"),
    "nccl": ("nccl", "libnccl.so.2"),
    "nvjitlink": ("nvjitlink", "libnvJitLink.so.12"),
    "cusparse": ("cusparse", "libcusparse.so.12"),
    "cusolver": ("cusolver", "libcusolver.so.11"),
    "cufft": ("cufft", "libcufft.so.11"),
    "curand": ("curand", "libcurand.so.10"),
    "nvrtc": ("cuda_nvrtc", "libnvrtc.so.12"),
    "cupti": ("cuda_cupti", "libcupti.so.12"),
}


def test_every_library_a_framework_loads_is_mapped_with_its_wheel_and_shadowing_copies(
    tmp_path: Path,
) -> None:
    import shutil

    site = tmp_path / SITE.lstrip("/")
    one = shared_object(tmp_path / "build/libone.so", soname="libone.so")
    components = sorted({c for c, _ in LOADED_BY_FRAMEWORKS.values()})
    for component, name in LOADED_BY_FRAMEWORKS.values():
        for directory in (site / "nvidia" / component / "lib", tmp_path / "usr/local/cuda/lib64"):
            directory.mkdir(parents=True, exist_ok=True)
            shutil.copy(one, directory / name)
    runpath = ":".join(f"$ORIGIN/../../nvidia/{c}/lib" for c in components)
    shared_object(site / "torch/lib/libtorch_cuda.so", soname="libtorch_cuda.so", runpath=runpath)
    result = libmap(tmp_path, env={"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"})
    libraries = result["frameworks"]["torch"]["libraries"]
    for key, (component, name) in LOADED_BY_FRAMEWORKS.items():
        vias = [(c["path"], c["via"]) for c in libraries[key]["candidates"]]
        assert vias == [
            (f"/usr/local/cuda/lib64/{name}", "LD_LIBRARY_PATH"),
            (f"{SITE}/nvidia/{component}/lib/{name}", "runpath"),
        ], key
        assert len(result["copies"][key]) == 2, key
