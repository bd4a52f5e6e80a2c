"""Commands and the NVML child on native Windows, through the seam (``winproc.windows_api``): a
Job object per command, pipes read by threads, a hang killed with what it started, a crash
named from its exit code. Real processes run; kernel32 and CreateProcess are tests/fakes/windows.py.
"""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from dldoctor.facts import winjob, winproc
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.nvidia import gather_nvidia
from dldoctor.facts.nvml_child import _library_findable
from dldoctor.facts.run import run_command
from tests.fakes import fake_libnvml
from tests.fakes.fake_nvml import FakeNvml, load_description
from tests.fakes.fsroot import write
from tests.fakes.windows import FakeWindows


@pytest.fixture
def windows(tmp_path, monkeypatch):
    fake = FakeWindows(tmp_path / "fake")
    monkeypatch.setattr(winproc, "windows_api", lambda: fake.api)
    return fake


def test_a_command_runs_in_a_job_and_both_streams_are_kept(windows):
    result = run_command(
        [sys.executable, "-c", "import sys; print('out'); sys.stderr.write('err')"]
    )
    assert result.ok and result.stdout == "out\n" and result.stderr == "err"
    names = windows.kernel.names()
    assert names.index("CreateProcess") < names.index("AssignProcessToJobObject")
    assert "TerminateJobObject" in names and not windows.kernel.open_handles
    (popen,) = windows.popens
    assert popen["creationflags"] & winjob.CREATE_NO_WINDOW
    ((flags, _),) = windows.kernel.limits.values()
    assert not flags & winjob.JOB_OBJECT_LIMIT_PROCESS_MEMORY  # commands are not capped


def test_a_hung_command_is_killed_at_its_timeout_with_what_it_started(windows):
    body = (
        "import subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    result = run_command([sys.executable, "-c", body], timeout_s=2)
    assert result.timed_out and result.returncode is None
    worker = int(result.stdout.split()[0])
    for _ in range(50):
        if not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the worker outlived the job")


def test_a_command_printing_past_its_limit_is_stopped(windows):
    result = run_command([sys.executable, "-c", "print('x' * 100000)"], limit_bytes=1000)
    assert result.truncated and len(result.stdout) == 1000


def test_a_command_that_cannot_start_is_a_result(windows, tmp_path):
    result = run_command([str(tmp_path / "nvidia-smi.exe")])
    assert result.error and result.returncode is None and not windows.kernel.open_handles


def test_nvml_is_found_where_pynvml_looks_on_windows(tmp_path):
    host = Host(root=tmp_path, env={"WINDIR": r"C:\Windows", "PROGRAMFILES": r"D:\Programs"})
    assert not _library_findable(host, LdCache(()), windows=True)
    write(tmp_path, "/D/Programs/NVIDIA Corporation/NVSMI/nvml.dll", "MZ")
    assert _library_findable(host, LdCache(()), windows=True)
    assert not _library_findable(host, LdCache(()), windows=False)  # no libnvidia-ml.so.1
    write(tmp_path, "/C/Windows/System32/nvml.dll", "MZ")
    assert _library_findable(Host(root=tmp_path, env={}), LdCache(()), windows=True)


def test_the_nvml_child_reads_each_gpu_driver_model_on_windows(windows, tmp_path):
    description = load_description("rtx5090")
    description["gpus"][0]["driver_model"] = [1, 1]  # TCC
    host = Host(root=tmp_path, env={"PATH": ""}, nvml=FakeNvml(description))
    section = gather_nvidia(host, LdCache(()))
    assert section["nvml"]["status"] == "ok"
    assert section["gpus"][0]["driver_model"] == {"current": "TCC", "pending": "TCC"}
    assert "CreateProcess" in windows.kernel.names()  # it ran through the Windows path


@pytest.mark.skipif(fake_libnvml.compiler() is None, reason="needs a C compiler")
def test_an_nvml_crash_on_windows_is_named_from_its_exit_code(windows, tmp_path):
    lib = fake_libnvml.build(tmp_path / "segv", "segv")
    write(tmp_path / "root", "/C/Windows/System32/nvml.dll", "MZ")
    env = {"PATH": "", "LD_LIBRARY_PATH": str(lib)}  # the real pynvml loads the fake here
    section = gather_nvidia(Host(root=tmp_path / "root", env=env), LdCache(()))
    assert section["nvml"]["status"] == "crashed"
    assert section["nvml"]["signal"] == "STATUS_ACCESS_VIOLATION"
    assert section["nvml"]["error"] == "NVML crashed (STATUS_ACCESS_VIOLATION) in nvmlInit"
