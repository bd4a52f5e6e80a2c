"""The isolated child on native Windows: a Job object instead of a session, threads instead of select.

Same contract as ``runner.run_child``: the child gets the write end of a pipe (its HANDLE, the
only one it inherits besides stdio) and writes one JSON object per line to it; stdout and stderr
are kept as its last words. It runs in a Job object that caps each process's memory and is
terminated at the end, so the child and everything it started die together whatever happened;
an exception that ended it is named from its NTSTATUS exit code. Windows pipes cannot be
``select``-ed, so one thread reads each pipe. Every Windows call goes through ``WindowsApi``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable

from dldoctor.facts import reaper
from dldoctor.facts.winjob import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    Job,
    WindowsApi,
    describe_exit,
    exit_status,
    quiet_errors,
)
from dldoctor.probes.runner import (
    EXIT_GRACE_S,
    OUTPUT_TAIL_BYTES,
    POLL_S,
    ChildOutcome,
    Heard,
    kept_output,
    lines,
)

JSON = dict[str, Any]
_CHANNEL, _OUTPUT = "channel", "output"
READER_JOIN_S = 2.0  # after the job is terminated, how long its pipes may take to report their end


def run_child_windows(
    api: WindowsApi,
    argv: list[str],
    args: JSON,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_message: Callable[[JSON], None] | None = None,
    cancel: threading.Event | None = None,
    memory_limit_bytes: int | None = None,
) -> ChildOutcome:
    """``runner.run_child`` on Windows; ``args["channel_handle"]`` is filled in. Never raises
    for anything the child does."""
    outcome = ChildOutcome()
    started = time.monotonic()
    marked, _ = reaper.mark(env)
    quiet_errors(api)
    job: Job | None = None
    try:
        job = Job(api, memory_limit_bytes)
    except OSError as exc:  # still run it, and say the isolation was partial
        outcome.isolation_error = str(exc)
    read_fd, write_fd = os.pipe()
    handle = api.os_handle(write_fd)
    api.set_handle_inheritable(handle, True)  # handle_list passes only inheritable handles
    startupinfo = api.startupinfo()
    startupinfo.lpAttributeList = {"handle_list": [handle]}
    try:
        proc = api.popen(
            [*argv, json.dumps({**args, "channel_handle": handle})],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
            startupinfo=startupinfo,
            creationflags=CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
            env=marked,
            cwd=cwd,
        )
    except (OSError, ValueError) as exc:
        os.close(read_fd)
        os.close(write_fd)
        if job is not None:
            job.close()
        outcome.error = getattr(exc, "strerror", None) or str(exc)
        return outcome
    os.close(write_fd)
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    readers = {
        fd: threading.Thread(target=_pump, args=(fd, tag, inbox), daemon=True)
        for tag, fd in ((_CHANNEL, read_fd), (_OUTPUT, proc.stdout.fileno()))
    }
    try:
        if job is not None:
            try:
                job.assign(proc.pid)
            except OSError as exc:
                outcome.isolation_error = str(exc)
        for reader in readers.values():
            reader.start()
        _watch(proc, read_fd, inbox, outcome, started, timeout_s, on_message, cancel)
    finally:
        if job is not None:
            outcome.peak_memory_bytes = job.peak_process_memory_bytes()
            job.terminate()  # the child and all it started; then the child alone, in case
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5.0)
        if job is not None:
            job.close()
        _close(readers, proc)
    outcome.returncode = proc.returncode
    outcome.exception = describe_exit(proc.returncode) if exit_status(proc.returncode) else None
    outcome.duration_s = time.monotonic() - started
    return outcome


def _close(readers: dict[int, threading.Thread], proc: Any) -> None:
    """Close the pipes whose reader saw their end. A pipe still held by a process outside the job
    (none should be) is left open: closing it under a blocked reader would let that reader read
    whatever file later gets the same number."""
    for fd, reader in readers.items():
        if reader.is_alive():
            reader.join(timeout=READER_JOIN_S)
        if reader.is_alive():
            continue
        if proc.stdout is not None and fd == proc.stdout.fileno():
            proc.stdout.close()
        else:
            os.close(fd)


def _pump(fd: int, tag: str, inbox: queue.Queue[tuple[str, bytes]]) -> None:
    """Blocking reads of one pipe into ``inbox``; b"" once at its end."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        inbox.put((tag, data))
        if not data:
            return


def _watch(
    proc: Any,
    channel: int,
    inbox: queue.Queue[tuple[str, bytes]],
    outcome: ChildOutcome,
    started: float,
    timeout_s: float,
    on_message: Callable[[JSON], None] | None,
    cancel: threading.Event | None,
) -> None:
    open_pipes = {_CHANNEL, _OUTPUT}
    pending = {channel: b""}
    tail = bytearray()
    heard = Heard(started + timeout_s, timeout_s)
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if heard.done_at is None and now >= heard.deadline:
            outcome.timed_out = True
            break
        if cancel is not None and cancel.is_set():
            outcome.cancelled = not outcome.done
            break
        if heard.done_at is not None and now >= heard.done_at:
            break
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        # Once it exited, what is still in the pipes is read; a grandchild holding them open
        # does not keep us waiting past the grace (the job is terminated next).
        if exited_at is not None and (not open_pipes or now >= exited_at + EXIT_GRACE_S):
            break
        try:
            tag, data = inbox.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if not data:
            open_pipes.discard(tag)
        elif tag == _OUTPUT:
            tail += data
            del tail[:-OUTPUT_TAIL_BYTES]
        else:
            for message in lines(pending, channel, data, outcome):
                heard.take(message, outcome)
                if on_message is not None:
                    on_message(message)
    outcome.output_tail = kept_output(tail)
