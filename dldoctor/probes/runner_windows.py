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
import os
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable

from dldoctor.facts import reaper
from dldoctor.facts.run_windows import Readers
from dldoctor.facts.winjob import (
    BELOW_NORMAL_PRIORITY_CLASS,
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    Job,
    WindowsApi,
    quiet_errors,
)
from dldoctor.facts.winproc import describe_exit, exit_status
from dldoctor.probes.runner import (
    EXIT_GRACE_S,
    OUTPUT_TAIL_BYTES,
    POLL_S,
    ChildOutcome,
    Heard,
    arguments_file,
    kept_output,
    lines,
)

JSON = dict[str, Any]


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
    flags = CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    if isinstance(args.get("nice"), int) and args["nice"] > 0:  # os.nice's Windows counterpart
        flags |= BELOW_NORMAL_PRIORITY_CLASS
    files = contextlib.ExitStack()  # the arguments' file, kept until the child has ended
    try:
        path = files.enter_context(arguments_file({**args, "channel_handle": handle}))
        proc = api.popen(
            [*argv, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
            startupinfo=startupinfo,
            creationflags=flags,
            env=marked,
            cwd=cwd,
        )
    except (OSError, ValueError) as exc:
        files.close()
        os.close(read_fd)
        os.close(write_fd)
        if job is not None:
            job.close()
        outcome.error = getattr(exc, "strerror", None) or str(exc)
        return outcome
    os.close(write_fd)
    output = proc.stdout.fileno()
    readers = Readers([read_fd, output])
    try:
        if job is not None:
            try:
                job.assign(proc.pid)
            except OSError as exc:
                outcome.isolation_error = str(exc)
        readers.start()
        _watch(proc, read_fd, output, readers, outcome, started, timeout_s, on_message, cancel)
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
        ended = readers.ended()  # a pipe is closed only once its reader saw its end
        if read_fd in ended:
            os.close(read_fd)
        if output in ended:
            proc.stdout.close()
        files.close()
    outcome.returncode = proc.returncode
    outcome.exception = describe_exit(proc.returncode) if exit_status(proc.returncode) else None
    outcome.duration_s = time.monotonic() - started
    return outcome


def _watch(
    proc: Any,
    channel: int,
    output: int,
    readers: Readers,
    outcome: ChildOutcome,
    started: float,
    timeout_s: float,
    on_message: Callable[[JSON], None] | None,
    cancel: threading.Event | None,
) -> None:
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
        if exited_at is not None and (not readers.open or now >= exited_at + EXIT_GRACE_S):
            break
        chunk = readers.get(POLL_S)
        if chunk is None or not chunk[1]:
            continue
        fd, data = chunk
        if fd == output:
            tail += data
            del tail[:-OUTPUT_TAIL_BYTES]
            continue
        for message in lines(pending, channel, data, outcome):
            heard.take(message, outcome)
            if on_message is not None:
                on_message(message)
    outcome.output_tail = kept_output(tail)
