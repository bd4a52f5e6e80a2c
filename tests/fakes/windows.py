"""A fake Windows process API (kernel32's job functions, CreateProcess) over real Linux processes.

What it stands in for, and how: a Job object is a set of real processes; AssignProcessToJobObject
applies the job's per-process memory limit to the process (prlimit RLIMIT_DATA, the nearest
Linux means); TerminateJobObject kills the process with everything it started; CreateProcess is
``subprocess.Popen`` with the inherited handle passed as an fd of the same number (``msvcrt``
in the child is a two-line module that says a handle is its fd). Exit codes are what Windows
reports: a segfault is 0xC0000005 (STATUS_ACCESS_VIOLATION), a job termination its exit code.
Everything the code under test asks for is recorded, to be checked.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from dldoctor.facts.winjob import (
    JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOB_OBJECT_LIMIT_PROCESS_MEMORY,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    WindowsApi,
)

# CreateProcess takes a command line of at most 32,767 characters, its terminating NUL included.
CMDLINE_CHARS = 32766
ERROR_FILENAME_EXCED_RANGE = 206

# One use only: while a module named msvcrt is importable, the standard library believes it runs
# on Windows (subprocess imports _winapi), so it takes itself away once the channel is open.
MSVCRT = """\
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
def open_osfhandle(handle, flags):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != HERE]
    os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    sys.modules.pop("msvcrt", None)
    return handle  # the fake passes each inherited handle as the fd of the same number
"""
# What Windows reports for a process that a POSIX signal would have ended.
SIGNAL_TO_NTSTATUS = {
    signal.SIGSEGV: 0xC0000005,
    signal.SIGILL: 0xC000001D,
    signal.SIGBUS: 0xC0000005,
    signal.SIGABRT: 3,  # abort() in the Microsoft C runtime exits with 3
}


class FakeKernel32:
    def __init__(self, fail: tuple[str, ...] = (), peak_bytes: int = 123 << 20) -> None:
        self.fail = set(fail)  # functions that fail (return 0)
        self.peak_bytes = peak_bytes
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.limits: dict[int, tuple[int, int]] = {}  # job → (LimitFlags, ProcessMemoryLimit)
        self.members: dict[int, list[int]] = {}
        self.processes: dict[int, int] = {}  # process handle → pid
        self.terminated: dict[int, int] = {}  # pid → exit code given by TerminateJobObject
        self.open_handles: set[int] = set()
        self.error_mode = 0
        self._next = 1000

    def _handle(self) -> int:
        self._next += 4
        self.open_handles.add(self._next)
        return self._next

    def _call(self, name: str, *args: Any) -> bool:
        self.calls.append((name, args))
        return name not in self.fail

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def CreateJobObjectW(self, attributes: Any, name: Any) -> int:
        if not self._call("CreateJobObjectW", attributes, name):
            return 0
        job = self._handle()
        self.members[job] = []
        return job

    def SetInformationJobObject(self, job: int, kind: int, info: Any, size: int) -> int:
        if not self._call("SetInformationJobObject", job, kind, size):
            return 0
        assert kind == JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS
        assert size == ctypes.sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION)
        limits = info._obj  # what ctypes.byref points at
        self.limits[job] = (limits.BasicLimitInformation.LimitFlags, limits.ProcessMemoryLimit)
        return 1

    def QueryInformationJobObject(self, job: int, kind: int, info: Any, size: int, ret: Any) -> int:
        if not self._call("QueryInformationJobObject", job, kind, size):
            return 0
        info._obj.PeakProcessMemoryUsed = self.peak_bytes
        return 1

    def OpenProcess(self, access: int, inherit: int, pid: int) -> int:
        if not self._call("OpenProcess", access, inherit, pid):
            return 0
        handle = self._handle()
        self.processes[handle] = pid
        return handle

    def AssignProcessToJobObject(self, job: int, process: int) -> int:
        if not self._call("AssignProcessToJobObject", job, process):
            return 0
        pid = self.processes[process]
        self.members[job].append(pid)
        flags, memory = self.limits.get(job, (0, 0))
        if flags & JOB_OBJECT_LIMIT_PROCESS_MEMORY:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).rlimit(resource.RLIMIT_DATA, (memory, memory))
        return 1

    def TerminateJobObject(self, job: int, code: int) -> int:
        if not self._call("TerminateJobObject", job, code):
            return 0
        self._kill_members(job, code)
        return 1

    def CloseHandle(self, handle: int) -> int:
        self._call("CloseHandle", handle)
        self.open_handles.discard(handle)
        flags, _ = self.limits.get(handle, (0, 0))
        if handle in self.members and flags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE:
            self._kill_members(handle, 1)
        return 1

    def SetErrorMode(self, mode: int) -> int:
        self._call("SetErrorMode", mode)
        previous, self.error_mode = self.error_mode, mode
        return previous

    def _kill_members(self, job: int, code: int) -> None:
        for pid in self.members[job]:
            try:
                tree = [psutil.Process(pid)]
                tree += tree[0].children(recursive=True)
            except psutil.Error:
                tree = []
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    if process.status() != psutil.STATUS_ZOMBIE:
                        self.terminated.setdefault(process.pid, code)
                    process.kill()
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # what left the tree by a double fork


class FakeProcess:
    """A Popen of a real process, answering as Windows would (exit codes, kill)."""

    def __init__(self, real: subprocess.Popen[bytes], kernel: FakeKernel32) -> None:
        self.real, self.kernel = real, kernel
        self.pid, self.stdout, self.stderr = real.pid, real.stdout, real.stderr
        self.killed = False

    def _windows(self, code: int | None) -> int | None:
        if code is None:
            return None
        if self.pid in self.kernel.terminated:
            return self.kernel.terminated[self.pid]
        if code < 0:
            return 1 if self.killed else SIGNAL_TO_NTSTATUS.get(-code, 1)
        return code

    def poll(self) -> int | None:
        return self._windows(self.real.poll())

    def wait(self, timeout: float | None = None) -> int | None:
        return self._windows(self.real.wait(timeout))

    def kill(self) -> None:
        if self.real.poll() is None:
            self.killed = True
            self.real.kill()

    @property
    def returncode(self) -> int | None:
        return self._windows(self.real.returncode)


class FakeStartupInfo:
    def __init__(self) -> None:
        self.dwFlags = 0
        self.lpAttributeList: dict[str, Any] = {"handle_list": []}


class FakeWindows:
    """The whole seam: ``api`` is what ``runner.windows_api`` returns on Windows."""

    def __init__(self, folder: Path, **kernel: Any) -> None:
        self.kernel = FakeKernel32(**kernel)
        self.popens: list[dict[str, Any]] = []
        self.inheritable: list[tuple[int, bool]] = []
        self.children: list[FakeProcess] = []
        self.site = folder / "fake-msvcrt"
        self.site.mkdir(parents=True, exist_ok=True)
        (self.site / "msvcrt.py").write_text(MSVCRT, encoding="utf-8")
        self.api = WindowsApi(
            kernel32=self.kernel,
            last_error=lambda: 5,  # ERROR_ACCESS_DENIED
            popen=self.popen,
            startupinfo=FakeStartupInfo,
            os_handle=lambda fd: fd,
            set_handle_inheritable=lambda h, flag: self.inheritable.append((h, flag)),
        )

    def popen(self, argv: list[str], **kwargs: Any) -> FakeProcess:
        self.kernel.calls.append(("CreateProcess", (argv[0],)))
        if len(subprocess.list2cmdline(argv)) > CMDLINE_CHARS:  # CreateProcess's own limit
            raise OSError(ERROR_FILENAME_EXCED_RANGE, "The filename or extension is too long")
        self.popens.append({"argv": argv, "arguments": _arguments_file(argv[-1]), **kwargs})
        assert kwargs.pop("close_fds") is True
        kwargs.pop("creationflags")
        startupinfo = kwargs.pop("startupinfo", None)
        handles = startupinfo.lpAttributeList["handle_list"] if startupinfo else []
        env = dict(kwargs.pop("env") or os.environ)
        if handles:  # a child told of an inherited handle opens it with msvcrt
            paths = (str(self.site), env.get("PYTHONPATH"))
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        real = subprocess.Popen(
            argv, env=env, pass_fds=tuple(handles), start_new_session=True, **kwargs
        )
        child = FakeProcess(real, self.kernel)
        self.children.append(child)
        return child


def _arguments_file(last: str) -> Any:
    """What a probe child's arguments' file holds, read while it exists; None for other
    commands (their last argument is no file, may be too long to be a file's name)."""
    try:
        return json.loads(Path(last).read_text()) if last.endswith(".json") else None
    except (OSError, ValueError):
        return None
