"""Windows process isolation: a Job object per child (memory cap, whole tree killed), kernel32 by ctypes.

The Windows counterpart of ``reaper``: a job holds the child and everything it starts (a
framework's worker processes included: job membership is inherited and survives the parent's
death), ``TerminateJobObject`` kills them all at once, and ``KILL_ON_JOB_CLOSE`` kills them even
if dldoctor itself dies. Every kernel32 call goes through :class:`WindowsApi`, the one seam a
test replaces (``kernel32`` is ``ctypes.WinDLL("kernel32")`` here, a recording fake there).
Structures and flags: Microsoft's winnt.h as documented for JOBOBJECT_EXTENDED_LIMIT_INFORMATION
(https://learn.microsoft.com/windows/win32/api/winnt/ns-winnt-jobobject_extended_limit_information).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

# CreateProcess flags (WinBase.h): a group of its own (Ctrl-C in dldoctor's console is not sent
# to it) and no console window flashing up for each probe.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
BELOW_NORMAL_PRIORITY_CLASS = 0x00004000  # a short probe yields the CPU to the longest one
# Job limits (winnt.h).
JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x00000100
# An unhandled exception ends the process with its code instead of waiting on the Windows Error
# Reporting dialog: a crashed probe is a crash at once, not a timeout minutes later.
JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x00000400
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9  # JobObjectExtendedLimitInformation
# AssignProcessToJobObject needs both rights on the process handle.
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
# Error mode, inherited by child processes (GetErrorMode's remarks): no "The code execution
# cannot proceed because X.dll was not found" box and no crash dialog for a probe to hang on.
SEM_FAILCRITICALERRORS = 0x0001
SEM_NOGPFAULTERRORBOX = 0x0002
SEM_NOOPENFILEERRORBOX = 0x8000
TERMINATED_EXIT_CODE = 1  # what TerminateProcess (Popen.kill) gives too

_ULONGLONG = ctypes.c_uint64
_DWORD = ctypes.c_uint32
_SIZE_T = ctypes.c_size_t


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", _DWORD),
        ("MinimumWorkingSetSize", _SIZE_T),
        ("MaximumWorkingSetSize", _SIZE_T),
        ("ActiveProcessLimit", _DWORD),
        ("Affinity", _SIZE_T),  # ULONG_PTR
        ("PriorityClass", _DWORD),
        ("SchedulingClass", _DWORD),
    ]


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [
        (name, _ULONGLONG)
        for name in (
            "ReadOperationCount",
            "WriteOperationCount",
            "OtherOperationCount",
            "ReadTransferCount",
            "WriteTransferCount",
            "OtherTransferCount",
        )
    ]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", _SIZE_T),
        ("JobMemoryLimit", _SIZE_T),
        ("PeakProcessMemoryUsed", _SIZE_T),
        ("PeakJobMemoryUsed", _SIZE_T),
    ]


@dataclass
class WindowsApi:
    """What the Windows path calls: kernel32's job functions and process creation.

    ``kernel32`` has CreateJobObjectW, SetInformationJobObject, QueryInformationJobObject,
    OpenProcess, AssignProcessToJobObject, TerminateJobObject, CloseHandle and SetErrorMode
    with their Win32 signatures (structures passed by ``ctypes.byref``). ``popen`` is
    ``subprocess.Popen``; ``os_handle`` is ``msvcrt.get_osfhandle`` (a pipe fd's HANDLE).
    """

    kernel32: Any
    last_error: Callable[[], int]
    popen: Callable[..., Any]
    startupinfo: Callable[[], Any]
    os_handle: Callable[[int], int]
    set_handle_inheritable: Callable[[int, bool], None]

    @classmethod
    def real(cls) -> WindowsApi:
        """This Windows machine's own (call only where ``os.name == "nt"``)."""
        import msvcrt  # Windows only

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        handle, boolean, pointer = ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
        signatures = {
            "CreateJobObjectW": ([pointer, ctypes.c_wchar_p], handle),
            "SetInformationJobObject": ([handle, ctypes.c_int, pointer, _DWORD], boolean),
            "QueryInformationJobObject": (
                [handle, ctypes.c_int, pointer, _DWORD, pointer],
                boolean,
            ),
            "OpenProcess": ([_DWORD, boolean, _DWORD], handle),
            "AssignProcessToJobObject": ([handle, handle], boolean),
            "TerminateJobObject": ([handle, ctypes.c_uint], boolean),
            "CloseHandle": ([handle], boolean),
            "SetErrorMode": ([ctypes.c_uint], ctypes.c_uint),
        }
        for name, (argtypes, restype) in signatures.items():
            function = getattr(kernel32, name)
            function.argtypes, function.restype = argtypes, restype
        return cls(
            kernel32=kernel32,
            last_error=ctypes.get_last_error,  # type: ignore[attr-defined]
            popen=subprocess.Popen,
            startupinfo=subprocess.STARTUPINFO,  # type: ignore[attr-defined]
            os_handle=msvcrt.get_osfhandle,  # type: ignore[attr-defined]
            set_handle_inheritable=os.set_handle_inheritable,  # type: ignore[attr-defined]
        )

    def failed(self, call: str) -> OSError:
        code = self.last_error()
        return OSError(f"{call} failed (Windows error {code})")


def quiet_errors(api: WindowsApi) -> None:
    """No error dialogs for this process and, by inheritance, the children it starts."""
    previous = api.kernel32.SetErrorMode(0)  # SetErrorMode answers the old mode: keep its bits
    mode = SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX
    api.kernel32.SetErrorMode(int(previous or 0) | mode)


class Job:
    """One Job object: the child and all it starts, a per-process memory cap, killed together."""

    def __init__(self, api: WindowsApi, memory_limit_bytes: int | None) -> None:
        """Create it with its limits; raises OSError (the caller runs the child without one)."""
        self.api = api
        self.handle = api.kernel32.CreateJobObjectW(None, None)
        if not self.handle:
            raise api.failed("CreateJobObjectW")
        info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
        flags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
        if memory_limit_bytes and memory_limit_bytes > 0:
            # Commit charge per process, like RLIMIT_DATA on Linux: an allocation past it fails
            # (MemoryError, std::bad_alloc) instead of the machine paging itself to a stop.
            flags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY
            info.ProcessMemoryLimit = memory_limit_bytes
        info.BasicLimitInformation.LimitFlags = flags
        ok = api.kernel32.SetInformationJobObject(
            self.handle,
            JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
            ctypes.byref(info),
            ctypes.sizeof(info),
        )
        if not ok:
            error = api.failed("SetInformationJobObject")
            self.close()
            raise error

    def assign(self, pid: int) -> None:
        """Put process ``pid`` in the job; raises OSError (nested jobs need Windows 8 or later).

        Called right after the child is created: the Python child takes far longer to start
        than this call, so nothing it starts can be born outside the job.
        """
        process = self.api.kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, 0, pid)
        if not process:
            raise self.api.failed("OpenProcess")
        try:
            if not self.api.kernel32.AssignProcessToJobObject(self.handle, process):
                raise self.api.failed("AssignProcessToJobObject")
        finally:
            self.api.kernel32.CloseHandle(process)

    def peak_process_memory_bytes(self) -> int | None:
        """The most memory any process of the job committed; None when Windows does not say."""
        if not self.handle:
            return None
        info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
        ok = self.api.kernel32.QueryInformationJobObject(
            self.handle,
            JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
            ctypes.byref(info),
            ctypes.sizeof(info),
            None,
        )
        return int(info.PeakProcessMemoryUsed) if ok else None

    def terminate(self) -> bool:
        """Kill every process in the job (the child, its workers, what they started)."""
        return bool(
            self.handle and self.api.kernel32.TerminateJobObject(self.handle, TERMINATED_EXIT_CODE)
        )

    def close(self) -> None:
        if self.handle:
            self.api.kernel32.CloseHandle(self.handle)
            self.handle = None
