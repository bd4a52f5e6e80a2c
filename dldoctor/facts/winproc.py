"""Native Windows processes, the light half: the seam that picks the Windows path, and exit codes.

Kept free of ctypes (``winjob`` holds the kernel32 side and is imported only on the Windows
path): every command dldoctor runs asks :func:`windows_api` which path to take.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dldoctor.facts.winjob import WindowsApi


def windows_api() -> WindowsApi | None:
    """The process API on native Windows, else None (the POSIX path runs). The seam tests replace."""
    if os.name != "nt":
        return None
    from dldoctor.facts.winjob import WindowsApi

    return WindowsApi.real()


# NTSTATUS codes a process ends with when it dies of an exception ([MS-ERREF] 2.3.1,
# https://learn.microsoft.com/openspecs/windows_protocols/ms-erref/596a1078-e883-4972-9bbc-49e60bebca55),
# with what each means for a probe. The Windows counterpart of a POSIX signal name.
EXIT_STATUSES: dict[int, tuple[str, str]] = {
    0xC0000005: ("STATUS_ACCESS_VIOLATION", "access violation, the segmentation fault of Windows"),
    0xC000001D: ("STATUS_ILLEGAL_INSTRUCTION", "illegal instruction"),
    0xC0000096: ("STATUS_PRIVILEGED_INSTRUCTION", "privileged instruction"),
    0xC0000135: ("STATUS_DLL_NOT_FOUND", "a DLL the process needs was not found"),
    0xC0000139: ("STATUS_ENTRYPOINT_NOT_FOUND", "a DLL lacks a function the process needs"),
    0xC0000142: ("STATUS_DLL_INIT_FAILED", "a DLL failed to initialise"),
    0xC000007B: ("STATUS_INVALID_IMAGE_FORMAT", "a DLL is not a valid image: a 32/64-bit mix"),
    0xC0000409: (
        "STATUS_STACK_BUFFER_OVERRUN",
        "fail-fast: abort, or a corruption the C runtime detected",
    ),
    0xC0000602: ("STATUS_FAIL_FAST_EXCEPTION", "fail-fast exception"),
    0xC00000FD: ("STATUS_STACK_OVERFLOW", "stack overflow"),
    0xC0000374: ("STATUS_HEAP_CORRUPTION", "heap corruption"),
    0xC0000017: ("STATUS_NO_MEMORY", "out of memory"),
    0xC0000094: ("STATUS_INTEGER_DIVIDE_BY_ZERO", "integer division by zero"),
    0xC000013A: ("STATUS_CONTROL_C_EXIT", "ended by Ctrl-C"),
    0x80000003: ("STATUS_BREAKPOINT", "breakpoint: a debug assertion"),
    0xE06D7363: ("MSVC_CPP_EXCEPTION", "an unhandled C++ exception"),
}


def exit_status(code: int | None) -> str | None:
    """The NTSTATUS name a Windows exit code stands for (0xC0000005: STATUS_ACCESS_VIOLATION)."""
    if code is None:
        return None
    entry = EXIT_STATUSES.get(code & 0xFFFFFFFF)  # Python gives the DWORD unsigned; be lenient
    return entry[0] if entry else None


def describe_exit(code: int | None) -> str | None:
    """The name, code and meaning ("STATUS_ACCESS_VIOLATION (0xC0000005: access violation, ...)"),
    or None for a plain exit code."""
    if code is None:
        return None
    entry = EXIT_STATUSES.get(code & 0xFFFFFFFF)
    return f"{entry[0]} (0x{code & 0xFFFFFFFF:08X}: {entry[1]})" if entry else None
