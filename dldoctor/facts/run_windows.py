"""``run_command`` on native Windows: the command in a Job object, its pipes read by threads.

Windows pipes cannot be ``select``-ed, so each pipe has a reader thread feeding one queue
(:class:`Readers`, shared with the probe runner). The job is terminated at the end, which ends
the command and everything it started; a pipe is closed only once its reader has seen its end.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dldoctor.facts import reaper
from dldoctor.facts.winjob import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    Job,
    WindowsApi,
    quiet_errors,
)

READER_JOIN_S = 2.0  # after the job is terminated, how long its pipes may take to report their end
_POLL_S = 0.05


class Readers:
    """One thread per pipe fd, each putting ``(fd, bytes)`` on ``inbox``; b"" at the pipe's end."""

    def __init__(self, fds: Sequence[int]) -> None:
        self.inbox: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self.open = set(fds)
        self.threads = {
            fd: threading.Thread(target=self._pump, args=(fd,), daemon=True) for fd in fds
        }

    def start(self) -> None:
        for thread in self.threads.values():
            thread.start()

    def _pump(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            self.inbox.put((fd, data))
            if not data:
                return

    def get(self, timeout_s: float) -> tuple[int, bytes] | None:
        """The next chunk (an fd's end is b"" and closes it in ``open``), or None after a wait."""
        try:
            fd, data = self.inbox.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if not data:
            self.open.discard(fd)
        return fd, data

    def ended(self) -> list[int]:
        """The fds whose reader has finished (waiting a little for each): safe to close. One
        still blocked (its pipe held by a process outside the job) is left open, since closing
        it would let that reader read whatever file next gets its number."""
        done = []
        for fd, thread in self.threads.items():
            if thread.is_alive():
                thread.join(timeout=READER_JOIN_S)
            if not thread.is_alive():
                done.append(fd)
        return done


def run_windows(
    api: WindowsApi,
    args: tuple[str, ...],
    timeout_s: float,
    env: Mapping[str, str] | None,
    limit: int,
    cancel: threading.Event | None,
    grace_s: float,
) -> tuple[Any, bytearray, bytearray, str] | str:
    """(process, stdout, stderr, ending) — ending as ``run._collect`` says it — or why the
    command could not start."""
    marked, _ = reaper.mark(env)
    quiet_errors(api)
    try:
        job: Job | None = Job(api, None)
    except OSError:  # the command still runs; only what it leaves behind may outlive it
        job = None
    try:
        proc = api.popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            creationflags=CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
            env=marked,
        )
    except (OSError, ValueError) as exc:
        if job is not None:
            job.close()
        return getattr(exc, "strerror", None) or str(exc)
    out, err = bytearray(), bytearray()
    buffers = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    readers = Readers(list(buffers))
    ending = "held"
    try:
        if job is not None:
            with contextlib.suppress(OSError):
                job.assign(proc.pid)
        readers.start()
        ending = _collect(proc, readers, buffers, timeout_s, limit, cancel, grace_s)
    finally:
        if job is not None:
            job.terminate()
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5.0)
        if job is not None:
            job.close()
        ended = readers.ended()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None and not stream.closed and stream.fileno() in ended:
                stream.close()
    return proc, out, err, ending


def _collect(
    proc: Any,
    readers: Readers,
    buffers: dict[int, bytearray],
    timeout_s: float,
    limit: int,
    cancel: threading.Event | None,
    grace_s: float,
) -> str:
    deadline = time.monotonic() + timeout_s
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if now >= deadline or (cancel is not None and cancel.is_set()):
            return "timeout"
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and not readers.open:
            return "clean"
        if exited_at is not None and now >= exited_at + grace_s:
            return "held"
        chunk = readers.get(min(_POLL_S, max(0.0, deadline - now)))
        if chunk is None or not chunk[1]:
            continue
        fd, data = chunk
        kept = buffers[fd]
        if len(kept) + len(data) > limit:
            kept += data[: limit - len(kept)]
            return "truncated"
        kept += data
