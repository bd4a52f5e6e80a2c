"""The Windows runner through its seam: the Job object's calls and limits, the handle channel, a
kill on timeout that takes the whole tree, exit codes named as Windows names them.

Real children run (Linux processes); only kernel32 and CreateProcess are the fake in
tests/fakes/windows.py. The code under test is the Windows path itself, chosen the way
Windows chooses it: ``winproc.windows_api`` answering an API.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from dldoctor.facts import winjob, winproc
from dldoctor.facts.model import Facts
from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.runner import run_child
from tests.fakes.windows import FakeWindows

# The child opens its channel as the real harness does on Windows: from the inherited HANDLE.
PRELUDE = """\
import json, msvcrt, os, sys, time
ARGS = json.loads(open(sys.argv[1], encoding="utf-8").read())
FD = msvcrt.open_osfhandle(ARGS["channel_handle"], os.O_WRONLY)
import subprocess
def send(message):
    os.write(FD, (json.dumps(message) + "\\n").encode())
"""
GIB = 1 << 30


@pytest.fixture
def windows(tmp_path, monkeypatch):
    fake = FakeWindows(tmp_path)
    monkeypatch.setattr(winproc, "windows_api", lambda: fake.api)
    return fake


def child(body: str, timeout_s: float = 20, **kwargs):
    return run_child(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)], {"x": 1}, timeout_s, **kwargs
    )


def gone(pid: int) -> bool:
    for _ in range(50):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_the_child_runs_in_a_job_that_caps_memory_and_dies_with_its_handle(windows):
    outcome = child('send({"type": "done"})', memory_limit_bytes=3 * GIB)
    kernel = windows.kernel
    assert outcome.done and outcome.returncode == 0 and outcome.exception is None
    (job,) = kernel.limits
    flags, memory = kernel.limits[job]
    assert flags & winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert flags & winjob.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
    assert flags & winjob.JOB_OBJECT_LIMIT_PROCESS_MEMORY and memory == 3 * GIB
    # The job exists before the process, the process is in it at once, all is killed at the end.
    names = kernel.names()
    assert names.index("SetInformationJobObject") < names.index("CreateProcess")
    assert names.index("CreateProcess") < names.index("AssignProcessToJobObject")
    assert names.index("AssignProcessToJobObject") < names.index("TerminateJobObject")
    assert kernel.members[job] == [windows.children[0].pid]
    (access, _, _) = next(args for name, args in kernel.calls if name == "OpenProcess")
    assert access == winjob.PROCESS_SET_QUOTA | winjob.PROCESS_TERMINATE
    assert not kernel.open_handles  # the job and the process handle are closed
    assert kernel.error_mode & winjob.SEM_NOGPFAULTERRORBOX
    assert kernel.error_mode & winjob.SEM_FAILCRITICALERRORS


def test_the_child_gets_its_own_group_no_window_and_only_the_channel_handle(windows):
    child('send({"type": "done"})', memory_limit_bytes=GIB)
    (popen,) = windows.popens
    flags = popen["creationflags"]
    assert flags & winjob.CREATE_NEW_PROCESS_GROUP and flags & winjob.CREATE_NO_WINDOW
    args = popen["arguments"]
    assert popen["startupinfo"].lpAttributeList == {"handle_list": [args["channel_handle"]]}
    assert windows.inheritable == [(args["channel_handle"], True)]
    # The job caps memory on Windows: the child is not asked to cap itself as well.
    assert args["memory_limit_bytes"] is None and args["x"] == 1


def test_without_a_memory_limit_the_job_sets_none(windows):
    child('send({"type": "done"})')
    ((flags, memory),) = windows.kernel.limits.values()
    assert not flags & winjob.JOB_OBJECT_LIMIT_PROCESS_MEMORY and memory == 0
    assert flags & winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE


def test_what_the_child_prints_never_passes_for_a_result(windows):
    outcome = child(
        """
        print('{"type": "done"}')
        sys.stdout.flush()
        sys.stderr.write('{"type": "smoke", "status": "pass"}\\n')
        send({"type": "hello"})
        send({"type": "done"})
        """
    )
    assert [m["type"] for m in outcome.messages] == ["hello", "done"]
    assert '{"type": "done"}' in outcome.output_tail


def test_a_hang_is_killed_at_the_timeout_with_everything_it_started(windows):
    outcome = child(
        """
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        send({"type": "worker", "pid": worker.pid})
        time.sleep(600)
        """,
        timeout_s=2,
    )
    assert outcome.timed_out and not outcome.done
    assert outcome.returncode == winjob.TERMINATED_EXIT_CODE and outcome.exception is None
    assert ("TerminateJobObject" in windows.kernel.names()) and outcome.signal is None
    (worker,) = [m["pid"] for m in outcome.messages if m["type"] == "worker"]
    assert gone(worker)


def test_a_grandchild_holding_the_pipes_does_not_keep_the_runner_waiting(windows):
    outcome = child(
        """
        worker = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], pass_fds=(FD,)
        )
        send({"type": "worker", "pid": worker.pid})
        send({"type": "done"})
        os._exit(0)
        """,
        timeout_s=60,
    )
    assert outcome.done and not outcome.timed_out and outcome.returncode == 0
    (worker,) = [m["pid"] for m in outcome.messages if m["type"] == "worker"]
    assert gone(worker)


@pytest.mark.parametrize(
    ("how", "code", "name"),
    [
        ("ctypes.string_at(0)", 0xC0000005, "STATUS_ACCESS_VIOLATION"),
        ("os.kill(os.getpid(), signal.SIGILL)", 0xC000001D, "STATUS_ILLEGAL_INSTRUCTION"),
    ],
)
def test_a_crash_is_named_from_its_windows_exit_code(windows, how, code, name):
    outcome = child(
        f"""
        import ctypes, signal
        send({{"type": "begin", "framework": "torch"}})
        {how}
        """
    )
    assert outcome.returncode == code and outcome.signal is None
    assert outcome.exception is not None and outcome.exception.startswith(f"{name} (0x{code:08X}")
    records = ChildRecords(["torch"], "/nonexistent")
    for message in outcome.messages:
        records.feed(message)
    records.finish(outcome, None)
    record = records.records["torch"]
    assert record["status"] == "crash"
    assert record["reason"].startswith(f"crashed with {name}")
    assert record["process"]["exception"] == outcome.exception
    assert record["process"]["peak_memory_bytes"] == windows.kernel.peak_bytes


def test_a_plain_exit_code_is_not_a_crash(windows):
    outcome = child("sys.exit(3)")
    assert outcome.returncode == 3 and outcome.exception is None and outcome.signal is None


def test_the_memory_cap_set_on_the_job_stops_a_runaway_child(windows):
    outcome = child(
        """
        send({"type": "begin", "framework": "x"})
        try:
            chunks = [bytearray(64 << 20) for _ in range(64)]  # 4 GiB, touched
        except MemoryError:
            send({"type": "refused"})
        send({"type": "done"})
        """,
        memory_limit_bytes=512 << 20,
    )
    assert outcome.done and {"type": "refused"} in outcome.messages


@pytest.mark.parametrize("failing", ["CreateJobObjectW", "SetInformationJobObject"])
def test_a_job_that_cannot_be_made_is_said_and_the_child_still_runs(tmp_path, monkeypatch, failing):
    fake = FakeWindows(tmp_path, fail=(failing,))
    monkeypatch.setattr(winproc, "windows_api", lambda: fake.api)
    outcome = child('send({"type": "done"})', memory_limit_bytes=GIB)
    assert outcome.done and outcome.isolation_error == f"{failing} failed (Windows error 5)"
    assert "AssignProcessToJobObject" not in fake.kernel.names()
    assert not fake.kernel.open_handles


def test_a_child_that_cannot_join_the_job_is_said(tmp_path, monkeypatch):
    fake = FakeWindows(tmp_path, fail=("AssignProcessToJobObject",))
    monkeypatch.setattr(winproc, "windows_api", lambda: fake.api)
    outcome = child('send({"type": "done"})')
    assert outcome.done and "AssignProcessToJobObject failed" in str(outcome.isolation_error)
    assert not fake.kernel.open_handles


def test_an_interpreter_that_cannot_start_is_a_result(windows, tmp_path):
    outcome = run_child([str(tmp_path / "no-python.exe")], {}, 5, memory_limit_bytes=GIB)
    assert outcome.error and outcome.returncode is None
    assert not windows.kernel.open_handles  # the job made for it is closed


def test_exit_codes_name_the_windows_exceptions_and_nothing_else():
    for code, (name, _) in winproc.EXIT_STATUSES.items():
        assert winproc.exit_status(code) == name
        assert winproc.exit_status(code - (1 << 32)) == name  # as a signed 32-bit value
        assert winproc.describe_exit(code).startswith(f"{name} (0x{code:08X}: ")
    for plain in (None, 0, 1, 2, 3, 0xC0000004, 255):
        assert winproc.exit_status(plain) is None and winproc.describe_exit(plain) is None


def test_the_limit_structure_has_the_windows_layout():
    info = winjob.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    if ctypes.sizeof(ctypes.c_void_p) == 8:  # x64 (and arm64) winnt.h
        assert ctypes.sizeof(info) == 144
        assert info.ProcessMemoryLimit.offset == 112
        assert info.PeakProcessMemoryUsed.offset == 128


def test_a_real_probe_runs_through_the_windows_path(windows, matrix):
    """run_probes → the real harness → real onnxruntime, with the job and the handle channel."""
    from dldoctor.probes.probe import ProbeOptions, run_probes

    facts = Facts(
        packages={"frameworks": {"onnxruntime": {"distributions": [], "build": {}}}},
        system={"memory": {"total_bytes": 16 * GIB}},
    )
    section = run_probes(facts, matrix, ProbeOptions(python=sys.executable, timeout_s=120))
    record = section["frameworks"]["onnxruntime"]
    assert record["status"] == "pass", record["reason"]
    assert record["import"]["ok"] and record["smoke"]
    assert record["process"]["exit_code"] == 0 and "exception" not in record["process"]
    assert record["process"]["peak_memory_bytes"] == windows.kernel.peak_bytes
    ((_, memory),) = windows.kernel.limits.values()
    assert memory == section["memory_limit_bytes"] == 8 * GIB  # half of RAM, set on the job


def _crashed(exception: str) -> Facts:
    return Facts(
        system={"os": {"name": "Windows"}},
        runtime={
            "ran": True,
            "frameworks": {
                "torch": {
                    "status": "crash",
                    "reason": f"crashed with {exception} during import",
                    "during": "import",
                    "process": {"exit_code": 3221225477, "signal": None, "exception": exception},
                }
            },
        },
    )


def test_a_windows_crash_is_the_crash_finding_with_its_name(matrix):
    from dldoctor.checks.runtime import illegal_instruction, probe_crashed

    access = winproc.describe_exit(0xC0000005)
    (verdict,) = probe_crashed(_crashed(access), matrix)
    assert "STATUS_ACCESS_VIOLATION" in verdict.title
    assert verdict.evidence["exception"] == access
    assert illegal_instruction(_crashed(access), matrix) == []


def test_an_illegal_instruction_on_windows_is_the_cpu_finding_not_a_crash(matrix):
    from dldoctor.checks.runtime import illegal_instruction, probe_crashed

    illegal = winproc.describe_exit(0xC000001D)
    assert probe_crashed(_crashed(illegal), matrix) == []
    (verdict,) = illegal_instruction(_crashed(illegal), matrix)
    assert "STATUS_ILLEGAL_INSTRUCTION" in verdict.title


def test_out_of_memory_on_windows_is_told_with_windows_means(matrix):
    from dldoctor.checks.runtime import probe_crashed

    (verdict,) = probe_crashed(_crashed(winproc.describe_exit(0xC0000017)), matrix)
    assert "Task Manager" in verdict.fixes[0].summary and "dmesg" not in verdict.fixes[0].summary


def test_the_harness_opens_its_channel_from_the_inherited_handle(monkeypatch):
    import types

    from dldoctor.probes.child import harness

    opened = []
    fake = types.SimpleNamespace(open_osfhandle=lambda h, flags: opened.append((h, flags)) or 7)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    assert harness.channel_fd({"channel_handle": 1234}) == 7
    assert opened == [(1234, os.O_WRONLY)]
    assert harness.channel_fd({"channel_fd": 5, "channel_handle": None}) == 5


def test_a_niced_child_starts_below_normal_priority(windows):
    run_child([sys.executable, "-c", PRELUDE + 'send({"type": "done"})'], {"nice": 5}, 20)
    run_child([sys.executable, "-c", PRELUDE + 'send({"type": "done"})'], {"nice": 0}, 20)
    niced, normal = (p["creationflags"] for p in windows.popens)
    assert niced & winjob.BELOW_NORMAL_PRIORITY_CLASS
    assert not normal & winjob.BELOW_NORMAL_PRIORITY_CLASS


def test_the_accelerator_lock_on_windows_is_msvcrts_byte_lock(monkeypatch, tmp_path):
    import types

    from dldoctor.probes.child import harness

    calls = []

    def locking(fd, mode, nbytes):
        calls.append((mode, nbytes))
        if len(calls) == 1:
            raise OSError(36, "Resource deadlock avoided")  # LK_LOCK gave up once: retried

    fake = types.SimpleNamespace(LK_LOCK=1, LK_UNLCK=0, locking=locking)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setitem(sys.modules, "fcntl", None)  # import fcntl fails, as on Windows
    with harness._windows_lock(str(tmp_path / "lock")):
        assert calls == [(1, 1), (1, 1)]
    assert calls == [(1, 1), (1, 1), (0, 1)]


def test_the_probe_children_command_line_fits_windows_limit(windows):
    """A real probe child's arguments (the harness, torch's probe module sources): on Windows
    a command line holds at most 32,767 characters, so they are in a file, not on it."""
    from dldoctor.probes import plan

    source = plan.harness_source()
    big = {"modules": {"torch_probe": "#" * 40_000}, "x": 1}
    outcome = run_child([sys.executable, "-c", source], big, 20)
    (popen,) = windows.popens
    assert not outcome.error
    assert popen["arguments"]["modules"] == big["modules"]
    assert len(subprocess.list2cmdline(popen["argv"])) < 32_767
