"""Build-tool facts: this machine's real CUDA 13.0 toolkit and gcc, then fake roots and compilers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dldoctor.facts.buildtools import cuda_home, gather_build_tools, gcc_limit, host_compiler
from dldoctor.facts.cuda import gather_cuda
from dldoctor.facts.host import Host
from tests.fakes.fsroot import script, write

REAL_TOOLKIT = "/usr/local/cuda-13.0"
HOST_CONFIG = "#if __GNUC__ > {n}\n\n#error -- unsupported GNU version! gcc versions later than {n} are not supported!\n#endif\n"


def real_toolkit() -> str:
    if not Path(REAL_TOOLKIT, "bin", "nvcc").is_file() or shutil.which("gcc") is None:
        pytest.skip("needs this machine's CUDA 13.0 toolkit and gcc")
    return REAL_TOOLKIT


def test_the_real_cuda_13_toolkit_accepts_gcc_15_at_most():
    assert gcc_limit(Host(), real_toolkit()) == 15


def test_the_real_toolkit_and_gcc_as_a_build_would_use_them():
    toolkit = real_toolkit()
    host = Host(env={"PATH": f"{toolkit}/bin:{os.environ.get('PATH', '')}"})
    tools = gather_build_tools(host, gather_cuda(host))
    assert tools["cuda_home"] == toolkit and tools["cuda_home_chosen_by"] == "nvcc on PATH"
    assert tools["nvcc"] == f"{toolkit}/bin/nvcc"
    assert tools["nvcc_version"].startswith("13.0")
    assert tools["host_gcc_max"] == 15
    compiler = tools["host_compiler"]
    assert compiler["kind"] == "gcc" and compiler["chosen_by"] == "PATH"
    assert int(compiler["version"].split(".")[0]) >= 4  # this machine's gcc, whatever it is


def test_cuda_home_outranks_the_nvcc_on_path(tmp_path):
    host = Host(root=tmp_path, env={"CUDA_HOME": "/opt/cuda-12.8", "PATH": ""})
    nvcc = {"path": "/usr/local/cuda-13.0/bin/nvcc", "toolkit_path": "/usr/local/cuda-13.0"}
    assert cuda_home(host, nvcc) == {"path": "/opt/cuda-12.8", "chosen_by": "CUDA_HOME"}
    host = Host(root=tmp_path, env={"CUDA_PATH": "/opt/cuda-12.8"})
    assert cuda_home(host, nvcc)["chosen_by"] == "CUDA_PATH"
    assert cuda_home(Host(root=tmp_path, env={}), nvcc)["chosen_by"] == "nvcc on PATH"


def test_no_toolkit_at_all(tmp_path):
    host = Host(root=tmp_path, env={"PATH": ""})
    assert cuda_home(host, False) == {"path": False, "chosen_by": False}
    tools = gather_build_tools(host, {"nvcc_on_path": False, "toolkits": []})
    assert tools["nvcc"] is False and tools["host_compiler"] is False
    assert tools["ninja"] is False and tools["max_jobs"] is False


@pytest.mark.parametrize("limit", [11, 13, 14])
def test_gcc_limit_from_a_toolkits_host_config(tmp_path, limit):
    write(tmp_path, "/usr/local/cuda/include/crt/host_config.h", HOST_CONFIG.format(n=limit))
    assert gcc_limit(Host(root=tmp_path, env={}), "/usr/local/cuda") == limit


def test_a_host_config_without_the_check_is_unknown(tmp_path):
    write(tmp_path, "/usr/local/cuda/include/crt/host_config.h", "#if __GNUC__ > 99\n#endif\n")
    assert gcc_limit(Host(root=tmp_path, env={}), "/usr/local/cuda") is None


@pytest.mark.parametrize(
    ("banner", "kind", "version"),
    [
        ("gcc (GCC) 16.1.0 20260425 (Red Hat 16.1.0-1)", "gcc", "16.1.0"),
        ("gcc-14 (Ubuntu 14.2.0-4ubuntu2) 14.2.0", "gcc", "14.2.0"),
        ("clang version 19.1.7 (Fedora 19.1.7-1.fc41)", "clang", "19.1.7"),
    ],
)
def test_cc_names_the_host_compiler(tmp_path, banner, kind, version):
    script(tmp_path, "/usr/bin/mycc", f"echo '{banner}'\n")
    host = Host(root=tmp_path, env={"CC": "mycc", "PATH": str(tmp_path / "usr/bin")})
    found = host_compiler(host)
    assert (found["chosen_by"], found["kind"], found["version"]) == ("CC", kind, version)
    assert found["path"] == "/usr/bin/mycc"


def test_a_compiler_that_prints_nothing_useful_is_an_error(tmp_path):
    script(tmp_path, "/usr/bin/gcc", "echo 'hello'\n")
    found = host_compiler(Host(root=tmp_path, env={"PATH": str(tmp_path / "usr/bin")}))
    assert found["version"] is None and "hello" in found["error"]


def test_no_gcc_on_path(tmp_path):
    found = host_compiler(Host(root=tmp_path, env={"PATH": str(tmp_path)}))
    assert found["path"] is False and found["version"] is None
