"""Run an external command with a hard timeout and bounded output; never raises, leaves nothing.

A hung ``nvidia-smi`` (wedged driver, process in D state) is the reason this exists, and one that
prints forever: nothing in dldoctor starts a command any other way.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dldoctor.facts import reaper, winproc

DEFAULT_TIMEOUT_S = 5.0
OUTPUT_LIMIT_BYTES = 4 << 20  # per stream: far more than any command dldoctor runs prints
EXIT_GRACE_S = 0.2  # after the command exits, how long what it started may hold its pipes
_POLL_S = 0.05


@dataclass(frozen=True)
class CommandResult:
    """What a command did; ``error`` is set when it could not start (not found, no permission)."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    error: str = ""
    truncated: bool = False  # it printed more than its limit and was stopped there
    timeout_s: float | None = None
    limit_bytes: int = OUTPUT_LIMIT_BYTES

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.timed_out or self.error or self.truncated)

    def describe_failure(self) -> str:
        """One line saying why the command did not succeed, with the command's own words."""
        name = os.path.basename(self.argv[0]) if self.argv else "command"
        if self.error:
            return f"{name}: {self.error}"
        if self.timed_out:
            within = f"its {self.timeout_s:g} s timeout" if self.timeout_s else "its timeout"
            return f"{name} did not answer within {within} and was killed"
        if self.truncated:
            size = self.limit_bytes
            limit = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
            return f"{name} printed more than {limit} and was stopped"
        said = (self.stderr.strip() or self.stdout.strip()).splitlines()
        text = said[0] if said else "no output"
        return f"{name} exited with code {self.returncode}: {text}"


def run_command(
    argv: Sequence[str],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
    limit_bytes: int = OUTPUT_LIMIT_BYTES,
    cancel: threading.Event | None = None,
) -> CommandResult:
    """Run ``argv`` in its own session; at its end (or ``timeout_s``) kill all it left behind.

    Each stream is kept up to ``limit_bytes``; past that the command is stopped. Setting
    ``cancel`` (Ctrl-C in dldoctor) stops it too, as a timeout.
    """
    args = tuple(argv)
    api = winproc.windows_api()
    if api is not None:  # native Windows: a Job object, reader threads
        from dldoctor.facts.run_windows import run_windows

        ran = run_windows(api, args, timeout_s, env, limit_bytes, cancel, EXIT_GRACE_S)
        if isinstance(ran, str):
            return CommandResult(args, None, "", "", error=ran)
        proc, out, err, ending = ran
        return _result(args, proc.returncode, out, err, ending, timeout_s, limit_bytes)
    marked, token = reaper.mark(env)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=marked,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return CommandResult(args, None, "", "", error=getattr(exc, "strerror", None) or str(exc))
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    ending = "held"
    try:
        buffers = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        ending = _collect(proc, buffers, timeout_s, limit_bytes, cancel)
    finally:
        # Not reaped yet, so its number still names only its group and session. After a clean
        # end only the group is killed: the /proc search is for signs that something stayed.
        reaper.kill_tree(proc.pid, token, scan=ending != "clean")
        proc.stdout.close()
        proc.stderr.close()
    return _result(args, proc.wait(), out, err, ending, timeout_s, limit_bytes)


def _result(
    args: tuple[str, ...],
    returncode: int | None,
    out: bytearray,
    err: bytearray,
    ending: str,
    timeout_s: float,
    limit_bytes: int,
) -> CommandResult:
    return CommandResult(
        args,
        None if ending == "timeout" else returncode,
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
        timed_out=ending == "timeout",
        truncated=ending == "truncated",
        timeout_s=timeout_s,
        limit_bytes=limit_bytes,
    )


def _collect(
    proc: subprocess.Popen[bytes],
    buffers: dict[int, bytearray],
    timeout_s: float,
    limit: int,
    cancel: threading.Event | None,
) -> str:
    """Read both pipes until the command ends; says how: clean, held, timeout or truncated.

    "held": the command exited but something it started still holds its pipes.
    """
    deadline = time.monotonic() + timeout_s
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if now >= deadline or (cancel is not None and cancel.is_set()):
                return "timeout"
            if exited_at is None and reaper.exited(proc):
                exited_at = now
            if exited_at is not None and not selector.get_map():
                return "clean"
            if exited_at is not None and now >= exited_at + EXIT_GRACE_S:
                return "held"
            if not selector.get_map():  # both pipes closed, the command not gone yet
                reaper.exits_within(proc, min(_POLL_S, deadline - now), _POLL_S / 5)
                continue
            for key, _ in selector.select(timeout=min(_POLL_S, deadline - now)):
                fd = int(key.fd)
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(fd)
                    continue
                kept = buffers[fd]
                if len(kept) + len(data) > limit:
                    kept += data[: limit - len(kept)]
                    return "truncated"
                kept += data
