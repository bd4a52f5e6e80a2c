"""Kill what a child leaves behind: its process group, its session, and whatever carries its mark.

Every child dldoctor starts runs in its own session (``start_new_session``), so ``killpg`` ends
what it forked. A process that calls ``setsid`` or ``setpgid`` again (a daemonising framework
import, a hostile ``nvidia-smi``) leaves that group but keeps its environment, so each child is
started with a token in ``DLDOCTOR_CHILD`` and /proc is searched for it. Only a process that
both leaves the session and scrubs its environment escapes (cgroups would catch it; dldoctor
does not require them). Linux only: elsewhere the group kill is all there is.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

TOKEN_VAR = "DLDOCTOR_CHILD"
# One prefix per dldoctor process: "<pid>.<random>"; each child adds ".<n>".
_RUN = f"{os.getpid()}.{os.urandom(4).hex()}"
_COUNTER = itertools.count(1)
_marked = False  # whether any child was started: sweep() has nothing to look for otherwise
_PROC = "/proc"
_MAX_ROUNDS = 8  # a process forking while we scan is found in the next round
_CHUNK = 65536  # bytes per read of a /proc file (an environment is rarely larger)


def mark(env: Mapping[str, str] | None) -> tuple[dict[str, str], str]:
    """A copy of ``env`` (None: this process's) with a fresh token, and the token."""
    global _marked
    _marked = True
    token = f"{_RUN}.{next(_COUNTER)}"
    marked = dict(os.environ if env is None else env)
    marked[TOKEN_VAR] = token
    return marked, token


def kill_tree(pid: int, token: str, scan: bool = True) -> int:
    """SIGKILL the group ``pid`` leads and, with ``scan``, its session and all marked ``token``.

    Call it before reaping ``pid``: while its zombie exists, its number cannot be reused, so no
    unrelated process can lead a group or session of that number. Returns how many processes
    the /proc search found (what had left the group, or was still dying).
    """
    _kill_group(pid)
    if not scan:
        return 0
    since = _start_ticks(pid)
    needle = f"\0{TOKEN_VAR}={token}\0".encode()
    return _rounds(lambda: _matches(pid, needle, since))


def sweep() -> int:
    """Kill every process still marked by any child of this dldoctor process (at its end)."""
    if not _marked:
        return 0
    needle = f"\0{TOKEN_VAR}={_RUN}.".encode()
    since = _start_ticks(os.getpid())  # our descendants all started after us
    return _rounds(lambda: _matches(None, needle, since))


def signal_name(returncode: int | None) -> str | None:
    """The name of the signal that ended a process (-11: ``SIGSEGV``), else None."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def exit_fd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` (a child) exits, for a select; None where
    the system has none (macOS, Linux < 5.3): the caller polls. The caller closes it."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def exits_within(proc: subprocess.Popen[Any], timeout_s: float, poll_s: float = 0.02) -> bool:
    """Whether the child exits within ``timeout_s`` (without reaping it): woken by its exit
    descriptor at its exit, else polled every ``poll_s``."""
    deadline = time.monotonic() + timeout_s
    fd = exit_fd(proc.pid)
    try:
        while not exited(proc):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(poll_s, left))
        return True
    finally:
        if fd is not None:
            os.close(fd)


def exited(proc: subprocess.Popen[Any]) -> bool:
    """Whether the child has exited, without reaping it (its number stays reserved)."""
    try:
        result = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # already reaped
        return True
    except (AttributeError, OSError):  # no waitid (macOS): poll() reaps, good enough there
        return proc.poll() is not None
    return result is not None


def _rounds(find: Callable[[], Iterator[int]]) -> int:
    killed = 0
    for _ in range(_MAX_ROUNDS):
        found = [p for p in find() if p != os.getpid()]
        for victim in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)
        killed += len(found)
        if not found:
            break
    return killed


def _matches(leader: int | None, needle: bytes, since: int | None) -> Iterator[int]:
    """Live processes in ``leader``'s group or session, or whose environment holds ``needle``."""
    try:
        entries = os.listdir(_PROC)
    except OSError:  # no /proc (macOS): the group kill was all we could do
        return
    for name in entries:
        if not name.isdigit():
            continue
        stat = _stat(int(name))
        if stat is None or stat[0] in ("Z", "X"):  # gone, or a zombie: already dead
            continue
        _, group, session, started = stat
        if leader is not None and leader in (group, session):
            yield int(name)
        elif since is None or started >= since:  # a descendant started after its ancestor
            environ = read_bounded(f"{_PROC}/{name}/environ")
            if environ is not None and needle in b"\0" + environ:
                yield int(name)


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, process group, session, start time in clock ticks) from /proc/PID/stat."""
    raw = read_bounded(f"{_PROC}/{pid}/stat")
    if raw is None:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started, zombie or not; None when unknown (then every process is read)."""
    stat = _stat(pid)
    return stat[3] if stat else None


def read_bounded(path: str | os.PathLike[str], limit: int = 1 << 20) -> bytes | None:
    """Up to ``limit`` bytes of a file, or None if it is missing or unreadable, read in pieces:
    /proc files report no size, and one read of the whole limit allocates it (4x the cost of
    reading a /proc/PID/stat, read for every process at each child's end; dozens of small
    /proc and version files per check through ``Host.read_text``)."""
    chunks: list[bytes] = []
    size = 0
    try:
        with open(path, "rb", buffering=0) as f:
            while size < limit:
                chunk = f.read(min(_CHUNK, limit - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except OSError:  # gone, unreadable, or another user's process
        return None
    return b"".join(chunks)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(pid, signal.SIGKILL)
