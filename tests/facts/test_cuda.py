"""The cuda section, gathered from this machine's real toolkit and from fake roots and commands."""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.document.schema import allow_unknown
from dldoctor.facts.cuda import gather_cuda
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache, read_ldcache
from tests.fakes.fsroot import script as executable
from tests.fakes.fsroot import write

SCHEMA = allow_unknown(
    json.loads(resources.files("dldoctor.document").joinpath("schema/facts-cuda.json").read_text())
)
REAL_TOOLKIT = "/usr/local/cuda-13.0"
SLEEP = shutil.which("sleep") or "/bin/sleep"
CAT = shutil.which("cat") or "/bin/cat"


def link(root: Path, path: str, target: str) -> None:
    where = root / path.lstrip("/")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


def defines(**macros: object) -> str:
    """A header's ``#define NAME VALUE`` lines."""
    return "".join(f"#define {name} {value}\n" for name, value in macros.items())


def version_json(cuda: str, nvcc: str | None = None) -> str:
    data: dict[str, Any] = {"cuda": {"name": "CUDA SDK", "version": cuda}}
    if nvcc:
        data["cuda_nvcc"] = {"name": "CUDA NVCC", "version": nvcc}
    return json.dumps(data, indent=3)


def fake_nvcc(release: str, full: str, count_file: Path | None = None) -> str:
    """The body of a script that answers ``--version`` as nvcc does (shell builtins only)."""
    count = f"echo run >> {count_file}\n" if count_file else ""
    return (
        f"{count}echo 'nvcc: NVIDIA (R) Cuda compiler driver'\n"
        "echo 'Copyright (c) 2005-2024 NVIDIA Corporation'\n"
        "echo 'Built on Thu_Mar_28_02:18:24_PDT_2024'\n"
        f"echo 'Cuda compilation tools, release {release}, V{full}'\n"
        f"echo 'Build cuda_{release}.r{release}/compiler.34097967_0'\n"
    )


def runs(count_file: Path) -> int:
    return len(count_file.read_text().splitlines()) if count_file.exists() else 0


def fake_host(root: Path, *path: Path, **kwargs: Any) -> Host:
    """A host over ``root`` whose PATH is ``root/bin`` plus ``path`` (no real nvcc, no ldconfig)."""
    env = {"PATH": os.pathsep.join(str(p) for p in (root / "bin", *path))}
    env.update(kwargs.pop("env", {}))
    return Host(root=root, env=env, **kwargs)


def gather(host: Host, ldcache: LdCache | None = None) -> dict[str, Any]:
    section = gather_cuda(host, ldcache if ldcache is not None else LdCache(()))
    jsonschema.validate(section, SCHEMA)
    return section


def by_path(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tk["path"]: tk for tk in section["toolkits"]}


@pytest.mark.skipif(not Path(REAL_TOOLKIT).is_dir(), reason="needs this machine's CUDA 13.0")
def test_real_machine_cuda_13_found_by_symlink_and_nvcc_on_path() -> None:
    env = dict(os.environ, PATH=f"/usr/local/bin:{os.environ.get('PATH', '')}")
    host = Host(env=env)
    section = gather_cuda(host)
    jsonschema.validate(section, SCHEMA)

    tk = by_path(section)[REAL_TOOLKIT]
    assert section["toolkits"][0] is tk  # the default symlink's toolkit leads
    assert tk["version"].startswith("13.0.")
    assert {"/usr/local/cuda", "/usr/local/cuda-*", "nvcc on PATH"} <= set(tk["found_by"])
    assert section["default_toolkit"] == REAL_TOOLKIT
    nvcc = section["nvcc_on_path"]
    assert nvcc["toolkit_path"] == REAL_TOOLKIT and nvcc["version"].startswith("13.0.")
    assert nvcc["target"] == f"{REAL_TOOLKIT}/bin/nvcc"
    assert section["libraries"]["cudnn"] == []  # no cuDNN on this machine
    cudart = section["libraries"]["cudart"]
    assert {
        "version": "13.0",
        "path": f"{REAL_TOOLKIT}/include/cuda_runtime_api.h",
        "source": "header",
    } in cudart
    assert {
        "version": "13",
        "path": f"{REAL_TOOLKIT}/lib/libcudart.so.13",
        "source": "toolkit-lib",
    } in cudart
    assert section["errors"] == {}


@pytest.mark.parametrize("cuda_home", ["real", "machine"])
def test_cuda_home_first_then_default_symlink_then_newest(tmp_path: Path, cuda_home: str) -> None:
    for version, nvcc in [
        ("12.4.1", "12.4.131"),
        ("11.8.0", "11.8.89"),
        ("12.6.3", None),
        ("12.1.1", None),
    ]:
        major_minor = version.rsplit(".", 1)[0]
        write(tmp_path, f"/usr/local/cuda-{major_minor}/version.json", version_json(version, nvcc))
    link(tmp_path, "/usr/local/cuda", "/usr/local/cuda-12.4")  # absolute, as the installer makes it
    link(tmp_path, "/usr/local/cuda-12", "/usr/local/cuda-12.4")  # as the .deb packages make it
    home = str(tmp_path / "usr/local/cuda-11.8") if cuda_home == "real" else "/usr/local/cuda-11.8"

    section = gather(fake_host(tmp_path, env={"CUDA_HOME": home}))

    assert [tk["path"] for tk in section["toolkits"]] == [
        "/usr/local/cuda-11.8",
        "/usr/local/cuda-12.4",
        "/usr/local/cuda-12.6",
        "/usr/local/cuda-12.1",
    ]
    first, second = section["toolkits"][:2]
    assert first["found_by"] == ["CUDA_HOME", "/usr/local/cuda-*"]
    assert (first["version"], first["version_source"]) == ("11.8.0", "version.json")
    assert second["found_by"] == ["/usr/local/cuda", "/usr/local/cuda-*"]
    assert (second["version"], second["nvcc_version"]) == ("12.4.1", "12.4.131")
    assert section["default_toolkit"] == "/usr/local/cuda-12.4"
    assert section["env"] == {"CUDA_HOME": home, "CUDA_PATH": False, "CUDA_ROOT": False}
    assert section["nvcc_on_path"] is False


def test_cuda_home_that_is_not_a_directory_is_recorded(tmp_path: Path) -> None:
    section = gather(fake_host(tmp_path, env={"CUDA_HOME": "/opt/nowhere"}))
    assert section["toolkits"] == [] and section["default_toolkit"] is False
    assert section["errors"] == {"CUDA_HOME": "/opt/nowhere is not a directory"}


def test_cuda_10_2_toolkit_with_only_version_txt(tmp_path: Path) -> None:
    write(tmp_path, "/usr/local/cuda-10.2/version.txt", "CUDA Version 10.2.89\n")
    section = gather(fake_host(tmp_path))
    (tk,) = section["toolkits"]
    assert (tk["path"], tk["version"], tk["version_source"]) == (
        "/usr/local/cuda-10.2",
        "10.2.89",
        "version.txt",
    )
    assert tk["errors"] == {}


@pytest.mark.parametrize("garbage", ["{not json", '{"cuda": {"version": 12}}', "[]"])
def test_garbled_version_json_falls_back_to_nvcc(tmp_path: Path, garbage: str) -> None:
    write(tmp_path, "/usr/local/cuda-12.2/version.json", garbage)
    executable(tmp_path, "/usr/local/cuda-12.2/bin/nvcc", fake_nvcc("12.2", "12.2.140"))
    (tk,) = gather(fake_host(tmp_path))["toolkits"]
    assert (tk["version"], tk["version_source"]) == ("12.2.140", "nvcc")
    assert tk["nvcc"] == "/usr/local/cuda-12.2/bin/nvcc"
    assert tk["errors"]["version.json"].startswith("not a CUDA version.json")


def test_garbled_version_json_without_nvcc_leaves_version_unknown(tmp_path: Path) -> None:
    write(tmp_path, "/opt/cuda/version.json", "{not json")
    (tk,) = gather(fake_host(tmp_path))["toolkits"]
    assert (tk["path"], tk["found_by"]) == ("/opt/cuda", ["/opt/cuda"])
    assert (tk["version"], tk["version_source"], tk["nvcc"]) == (None, None, None)
    assert "version.json" in tk["errors"]


def test_cudnn_8_and_9_headers(tmp_path: Path) -> None:
    write(tmp_path, "/usr/local/cuda-11.8/version.json", version_json("11.8.0"))
    cudnn8 = defines(CUDNN_MAJOR=8, CUDNN_MINOR=9, CUDNN_PATCHLEVEL=7)
    write(tmp_path, "/usr/local/cuda-11.8/include/cudnn_version.h", cudnn8)
    write(tmp_path, "/usr/local/cuda-11.8/include/cudnn.h", '#include "cudnn_version.h"\n')
    # Debian's cudnn9 packages: a versioned name in the multiarch dir, linked from /usr/include.
    cudnn9 = defines(CUDNN_MAJOR=9, CUDNN_MINOR=1, CUDNN_PATCHLEVEL=0)
    write(tmp_path, "/usr/include/x86_64-linux-gnu/cudnn_version_v9.h", cudnn9)
    link(
        tmp_path,
        "/etc/alternatives/cudnn_version_h",
        "/usr/include/x86_64-linux-gnu/cudnn_version_v9.h",
    )
    link(tmp_path, "/usr/include/cudnn_version.h", "/etc/alternatives/cudnn_version_h")
    cudnn8_debian = defines(CUDNN_MAJOR=8, CUDNN_MINOR=9, CUDNN_PATCHLEVEL=2)
    write(tmp_path, "/usr/include/x86_64-linux-gnu/cudnn_version_v8.h", cudnn8_debian)
    # cuDNN 7 kept its version in cudnn.h.
    write(
        tmp_path,
        "/opt/cuda/include/cudnn.h",
        "#define CUDNN_MAJOR      7\n#define CUDNN_MINOR      6\n#define CUDNN_PATCHLEVEL 5\n",
    )

    section = gather(fake_host(tmp_path))

    assert section["libraries"]["cudnn"] == [
        {
            "version": "8.9.7",
            "path": "/usr/local/cuda-11.8/include/cudnn_version.h",
            "source": "header",
        },
        {"version": "7.6.5", "path": "/opt/cuda/include/cudnn.h", "source": "header"},
        {"version": "9.1.0", "path": "/usr/include/cudnn_version.h", "source": "header"},
        {
            "version": "8.9.2",
            "path": "/usr/include/x86_64-linux-gnu/cudnn_version_v8.h",
            "source": "header",
        },
    ]
    assert section["errors"] == {}


def test_nccl_header(tmp_path: Path) -> None:
    write(
        tmp_path,
        "/usr/include/nccl.h",
        defines(NCCL_MAJOR=2, NCCL_MINOR=21, NCCL_PATCH=5, NCCL_SUFFIX='""'),
    )
    assert gather(fake_host(tmp_path))["libraries"]["nccl"] == [
        {"version": "2.21.5", "path": "/usr/include/nccl.h", "source": "header"}
    ]


def test_tensorrt_headers_plain_and_enterprise_macros(tmp_path: Path) -> None:
    write(tmp_path, "/usr/local/cuda-12.4/version.json", version_json("12.4.1"))
    plain = defines(NV_TENSORRT_MAJOR="8 //!< TensorRT major version.", NV_TENSORRT_MINOR=6)
    plain += defines(NV_TENSORRT_PATCH=1, NV_TENSORRT_BUILD=6)
    write(tmp_path, "/usr/local/cuda-12.4/include/NvInferVersion.h", plain)
    enterprise = (
        defines(TRT_MAJOR_ENTERPRISE=10, TRT_MINOR_ENTERPRISE=3, TRT_PATCH_ENTERPRISE=0)
        + "#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< TensorRT major version.\n"
        "#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE //!< TensorRT minor version.\n"
        "#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE //!< TensorRT patch version.\n"
    )
    write(tmp_path, "/usr/include/aarch64-linux-gnu/NvInferVersion.h", enterprise)
    section = gather(fake_host(tmp_path))
    assert section["libraries"]["tensorrt"] == [
        {
            "version": "8.6.1",
            "path": "/usr/local/cuda-12.4/include/NvInferVersion.h",
            "source": "header",
        },
        {
            "version": "10.3.0",
            "path": "/usr/include/aarch64-linux-gnu/NvInferVersion.h",
            "source": "header",
        },
    ]


def test_header_without_version_macros_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "/usr/include/nccl.h", "/* truncated */\n")
    section = gather(fake_host(tmp_path))
    assert section["libraries"]["nccl"] == [
        {"version": None, "path": "/usr/include/nccl.h", "source": "header"}
    ]
    assert section["errors"] == {"/usr/include/nccl.h": "no nccl version macros found"}


def test_nvcc_on_path_in_toolkit_without_version_json_runs_once(tmp_path: Path) -> None:
    count = tmp_path / "nvcc-runs"
    write(
        tmp_path,
        "/usr/local/cuda-12.1/include/cuda_runtime_api.h",
        "#define CUDART_VERSION  12010\n",
    )
    executable(tmp_path, "/usr/local/cuda-12.1/bin/nvcc", fake_nvcc("12.1", "12.1.105", count))

    section = gather(fake_host(tmp_path, tmp_path / "usr/local/cuda-12.1/bin"))

    assert section["nvcc_on_path"] == {
        "path": "/usr/local/cuda-12.1/bin/nvcc",
        "target": "/usr/local/cuda-12.1/bin/nvcc",
        "version": "12.1.105",
        "toolkit_path": "/usr/local/cuda-12.1",
        "error": None,
    }
    (tk,) = section["toolkits"]
    assert tk["found_by"] == ["/usr/local/cuda-*", "nvcc on PATH"]
    assert (tk["version"], tk["version_source"]) == ("12.1.105", "nvcc")
    assert section["libraries"]["cudart"] == [
        {
            "version": "12.1",
            "path": "/usr/local/cuda-12.1/include/cuda_runtime_api.h",
            "source": "header",
        }
    ]
    assert runs(count) == 1


def test_nvcc_wrapper_on_path_leads_to_its_toolkit_whose_version_json_tells(tmp_path: Path) -> None:
    count = tmp_path / "nvcc-runs"
    write(tmp_path, "/opt/nv/cuda-12.3/version.json", version_json("12.3.2", "12.3.107"))
    real = executable(tmp_path, "/opt/nv/cuda-12.3/bin/nvcc", fake_nvcc("12.3", "12.3.107", count))
    executable(tmp_path, "/bin/nvcc", f'exec {real} "$@"\n')  # like /usr/local/bin/nvcc here

    section = gather(fake_host(tmp_path))

    nvcc = section["nvcc_on_path"]
    assert (nvcc["path"], nvcc["target"]) == ("/bin/nvcc", "/opt/nv/cuda-12.3/bin/nvcc")
    assert (nvcc["version"], nvcc["toolkit_path"], nvcc["error"]) == (
        "12.3.107",
        "/opt/nv/cuda-12.3",
        None,
    )
    (tk,) = section["toolkits"]
    assert (tk["found_by"], tk["version"]) == (["nvcc on PATH"], "12.3.2")
    assert runs(count) == 0  # version.json already said it


def test_lone_nvcc_script_on_path_has_no_toolkit(tmp_path: Path) -> None:
    executable(tmp_path, "/bin/nvcc", fake_nvcc("12.8", "12.8.93"))
    section = gather(fake_host(tmp_path))
    assert section["toolkits"] == []
    assert section["nvcc_on_path"] == {
        "path": "/bin/nvcc",
        "target": "/bin/nvcc",
        "version": "12.8.93",
        "toolkit_path": None,
        "error": None,
    }


def test_hanging_nvcc_is_killed_and_recorded(tmp_path: Path) -> None:
    count = tmp_path / "nvcc-runs"
    executable(tmp_path, "/usr/local/cuda-12.5/bin/nvcc", f"echo run >> {count}\nexec {SLEEP} 60\n")
    write(tmp_path, "/usr/local/cuda-12.5/include/cuda_runtime_api.h", "")
    host = fake_host(tmp_path, tmp_path / "usr/local/cuda-12.5/bin", command_timeout_s=1)

    start = time.perf_counter()
    section = gather(host)
    elapsed_s = time.perf_counter() - start

    assert elapsed_s < 5  # one timeout, not one per question
    (tk,) = section["toolkits"]
    assert tk["version"] is None
    assert "timeout" in tk["errors"]["nvcc"]
    nvcc = section["nvcc_on_path"]
    assert nvcc["version"] is None and "timeout" in nvcc["error"]
    assert runs(count) == 1  # the toolkit's nvcc is the one on PATH: asked once


LDCONFIG_P = """\
7 libs found in cache `/etc/ld.so.cache'
\tlibnvinfer_plugin.so.10 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10
\tlibnvinfer.so.10 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvinfer.so.10
\tlibnccl.so.2 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnccl.so.2
\tlibcudart.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudart.so.12
\tlibcudnn_ops.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn_ops.so.9
\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9
\tlibcudnn.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so
"""


@pytest.mark.parametrize("who_reads", ["gather", "caller"])
def test_libraries_from_fake_ldconfig(tmp_path: Path, who_reads: str) -> None:
    executable(
        tmp_path, "/bin/ldconfig", f"exec {CAT} {write(tmp_path, '/ldconfig-p.txt', LDCONFIG_P)}\n"
    )
    lib = "/usr/lib/x86_64-linux-gnu"
    write(tmp_path, f"{lib}/libcudnn.so.9.1.0", "")
    link(tmp_path, f"{lib}/libcudnn.so.9", "libcudnn.so.9.1.0")
    link(tmp_path, f"{lib}/libcudnn.so", "libcudnn.so.9")
    write(tmp_path, f"{lib}/libnccl.so.2.21.5", "")
    link(tmp_path, f"{lib}/libnccl.so.2", f"{lib}/libnccl.so.2.21.5")  # absolute, machine's
    write(tmp_path, f"{lib}/libnvinfer.so.10.3.0", "")
    link(tmp_path, f"{lib}/libnvinfer.so.10", f"{tmp_path}{lib}/libnvinfer.so.10.3.0")  # real path
    host = fake_host(tmp_path)

    if who_reads == "gather":
        section = gather_cuda(host)
        jsonschema.validate(section, SCHEMA)
    else:
        section = gather(host, read_ldcache(host))

    libraries = section["libraries"]
    assert libraries["cudnn"] == [  # libcudnn.so is the same file: one entry
        {"version": "9.1.0", "path": f"{lib}/libcudnn.so.9", "source": "ldconfig"}
    ]
    assert libraries["nccl"] == [
        {"version": "2.21.5", "path": f"{lib}/libnccl.so.2", "source": "ldconfig"}
    ]
    assert libraries["tensorrt"] == [
        {"version": "10.3.0", "path": f"{lib}/libnvinfer.so.10", "source": "ldconfig"}
    ]
    # Not on disk in the fake root: the soname's major is all there is.
    assert libraries["cudart"] == [
        {"version": "12", "path": f"{lib}/libcudart.so.12", "source": "ldconfig"}
    ]
    assert section["errors"] == {}


def test_missing_ldconfig_is_recorded(tmp_path: Path) -> None:
    section = gather_cuda(fake_host(tmp_path))
    assert section["errors"] == {"ldconfig": "ldconfig not found"}


def test_toolkit_lib_dir_cudart_cublas_and_copied_cudnn(tmp_path: Path) -> None:
    tk = "/usr/local/cuda-12.4"
    write(tmp_path, f"{tk}/version.json", version_json("12.4.1"))
    write(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcudart.so.12.4.127", "")
    link(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcudart.so.12", "libcudart.so.12.4.127")
    link(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcudart.so", "libcudart.so.12")
    write(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcublas.so.12.4.5.8", "")
    write(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcublasLt.so.12.4.5.8", "")
    write(tmp_path, f"{tk}/targets/x86_64-linux/lib/libcudnn.so.8", "")  # copied in from a tarball
    link(tmp_path, f"{tk}/lib64", "targets/x86_64-linux/lib")
    link(tmp_path, f"{tk}/lib/libcudnn.so.8", "../lib64/libcudnn.so.8")  # the same file again
    link(tmp_path, f"{tk}/lib/libcudart.so.11.0", "/nowhere/libcudart.so.11.0")  # dangling
    write(tmp_path, "/opt/cudnn9/lib/libcudnn.so.9.1.0", "")
    link(tmp_path, f"{tk}/lib/libcudnn.so.9", f"{tmp_path}/opt/cudnn9/lib/libcudnn.so.9.1.0")
    write(tmp_path, f"{tk}/lib/libnccl.so", "")  # a real file named without a version…
    link(tmp_path, f"{tk}/lib/libnccl.so.2", "libnccl.so")  # …and its soname link tells the major
    cublas = defines(CUBLAS_VER_MAJOR=12, CUBLAS_VER_MINOR=4)
    cublas += defines(CUBLAS_VER_PATCH=5, CUBLAS_VER_BUILD=8)
    write(tmp_path, f"{tk}/include/cublas_api.h", cublas)

    libraries = gather(fake_host(tmp_path))["libraries"]

    real = f"{tk}/targets/x86_64-linux/lib"
    assert libraries["cudart"] == [
        {"version": "12.4.127", "path": f"{real}/libcudart.so.12.4.127", "source": "toolkit-lib"}
    ]
    assert libraries["cublas"] == [
        {"version": "12.4.5.8", "path": f"{tk}/include/cublas_api.h", "source": "header"},
        {"version": "12.4.5.8", "path": f"{real}/libcublas.so.12.4.5.8", "source": "toolkit-lib"},
    ]
    assert libraries["cudnn"] == [
        {"version": "8", "path": f"{real}/libcudnn.so.8", "source": "toolkit-lib"},  # lib64 first
        {"version": "9.1.0", "path": "/opt/cudnn9/lib/libcudnn.so.9.1.0", "source": "toolkit-lib"},
    ]
    assert libraries["nccl"] == [
        {"version": "2", "path": f"{tk}/lib/libnccl.so", "source": "toolkit-lib"}
    ]


def test_ld_library_path_libraries_come_first_with_their_source(tmp_path: Path) -> None:
    """dlopen tries LD_LIBRARY_PATH before the cache: a stale cuDNN there is what loads."""
    write(tmp_path, "/opt/old/lib/libcudnn.so.8.6.0", "")
    host = Host(
        root=tmp_path,
        env={"PATH": str(tmp_path / "bin"), "LD_LIBRARY_PATH": "/opt/old/lib:relative"},
    )
    section = gather_cuda(host, LdCache(()))
    (entry,) = section["libraries"]["cudnn"]
    assert entry == {
        "version": "8.6.0",
        "path": "/opt/old/lib/libcudnn.so.8.6.0",
        "source": "LD_LIBRARY_PATH",
    }
