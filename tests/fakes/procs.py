"""Processes that try to outlive dldoctor: shell snippets that leave a sleeper behind, and how
a test waits for a process to be gone."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def escapee(pidfile: Path, keep_stdio: bool) -> str:
    """Shell lines that start a sleeper in a new session (out of the caller's process group),
    writing its pid to ``pidfile``, and wait until it has; with ``keep_stdio`` False the sleeper
    lets go of the caller's pipes."""
    detach = "" if keep_stdio else " </dev/null >/dev/null 2>&1"
    return (
        f"setsid sh -c 'echo $$ > {pidfile}.new; mv {pidfile}.new {pidfile}; exec sleep 300'"
        f"{detach} &\nwhile [ ! -e {pidfile} ]; do sleep 0.01; done\n"
    )


def wait_for_pid(pidfile: Path, within_s: float = 30.0) -> int:
    """The pid the escapee wrote (it starts asynchronously)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{pidfile} never got a pid")


def alive(pid: int) -> bool:
    """Running (a zombie is dead: its parent, maybe init in a container, just did not reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether ``pid`` is dead, waiting a little for a SIGKILL already sent to take effect."""
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill(pid: int) -> None:
    """Clean up after a failing test: the sleeper must not outlive the suite either."""
    with contextlib.suppress(OSError):
        os.kill(pid, 9)
