"""Run code in an isolated child: fresh interpreter, own process group, hard timeout, JSON channel.

On native Windows the same contract is kept by ``runner_windows`` (a Job object, reader threads);
``winproc.windows_api`` is the seam that picks it, and the one a test replaces.

The child gets the write end of a pipe (``pass_fds``) and writes one JSON object per line to it;
its stdout and stderr go to another pipe whose tail is kept as evidence. So nothing a framework
prints can pass for a result. The child is killed at the end whatever happened, with its whole
process group (a framework's worker processes too), and a crash or a timeout is a result.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from dldoctor.facts import reaper, winproc
from dldoctor.facts.reaper import signal_name
from dldoctor.report.clean import clean

JSON = dict[str, Any]
OUTPUT_TAIL_BYTES = 64 * 1024  # of the child's stdout+stderr, kept as evidence
MAX_MESSAGE_BYTES = 4 << 20  # a channel line longer than this is not one of ours
MAX_MESSAGES = 20_000
MAX_CHANNEL_BYTES = 64 << 20  # all messages together: a flooding child is not heard past this
POLL_S = 0.1
EOF_NAP_S = 0.001  # the first wait for the exit after both pipes' EOF, doubling up to POLL_S
EXIT_GRACE_S = 2.0  # after "done", how long the child may take to exit before it is killed


@dataclass
class ChildOutcome:
    """What one child did: its messages, how it ended, and its last words."""

    messages: list[JSON] = field(default_factory=list)
    returncode: int | None = None
    signal: str | None = None  # "SIGSEGV" when a signal ended it
    timed_out: bool = False
    done: bool = False  # the child said it finished
    output_tail: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    error: str = ""  # could not be started at all
    bad_lines: int = 0  # channel lines that were not JSON objects
    cancelled: bool = False  # ended early by ``cancel`` (Ctrl-C in the parent), not by itself
    channel_bytes: int = 0  # of the messages kept
    # Windows: the exception its NTSTATUS exit code names ("STATUS_ACCESS_VIOLATION (0xC0000005:
    # ...)"), the most memory one of its processes committed, and why the Job object that caps
    # and kills them could not be used (the child ran anyway).
    exception: str | None = None
    peak_memory_bytes: int | None = None
    isolation_error: str | None = None


def run_child(
    argv: list[str],
    args: JSON,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_message: Callable[[JSON], None] | None = None,
    cancel: threading.Event | None = None,
    memory_limit_bytes: int | None = None,
    on_spawn: Callable[[int | None], None] | None = None,
) -> ChildOutcome:
    """Run ``argv`` with the path of a file holding ``args`` as JSON (``arguments_file``) and a
    result channel; ``args["channel_fd"]`` is filled in.

    The deadline is ``timeout_s`` from the start, reset by each ``begin`` message (one per
    framework in the child) and extended by a ``phase`` message that asks for its own
    ``timeout_s`` (torch.compile). Setting ``cancel`` (Ctrl-C in the parent) ends it early.
    ``memory_limit_bytes`` caps each process: on POSIX the child sets RLIMIT_DATA itself from
    ``args["memory_limit_bytes"]``, on Windows its Job object does. Never raises for anything
    the child does. ``on_spawn`` gets the child's pid once it exists (on Windows None, just
    before).
    """
    api = winproc.windows_api()
    if api is not None:
        from dldoctor.probes.runner_windows import run_child_windows

        windows_args = {**args, "memory_limit_bytes": None}  # the job caps it, not the child
        if on_spawn is not None:
            on_spawn(None)
        return run_child_windows(
            api, argv, windows_args, timeout_s, env, cwd, on_message, cancel, memory_limit_bytes
        )
    if memory_limit_bytes is not None:
        args = {**args, "memory_limit_bytes": memory_limit_bytes}
    read_fd, write_fd = os.pipe()
    with arguments_file({**args, "channel_fd": write_fd}) as path:
        return _run(
            argv, path, read_fd, write_fd, timeout_s, env, cwd, on_message, cancel, on_spawn
        )


@contextlib.contextmanager
def arguments_file(args: JSON) -> Iterator[str]:
    """``args`` as JSON in a private file (mode 0600) that lives while the child runs: its path
    is the child's last argument. Not the JSON itself: the probe's arguments carry its modules'
    sources (~35 KB for torch), and a command line is short (32,767 characters in all on
    Windows, 128 KiB an argument on Linux)."""
    import tempfile

    fd, path = tempfile.mkstemp(prefix="dldoctor-args-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(args, out)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _run(
    argv: list[str],
    path: str,
    read_fd: int,
    write_fd: int,
    timeout_s: float,
    env: Mapping[str, str] | None,
    cwd: str | None,
    on_message: Callable[[JSON], None] | None,
    cancel: threading.Event | None,
    on_spawn: Callable[[int | None], None] | None,
) -> ChildOutcome:
    outcome = ChildOutcome()
    started = time.monotonic()
    marked, token = reaper.mark(env)
    try:
        proc = subprocess.Popen(
            [*argv, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
            env=marked,
            cwd=cwd,
        )
    except (OSError, ValueError) as exc:
        os.close(read_fd)
        os.close(write_fd)
        outcome.error = getattr(exc, "strerror", None) or str(exc)
        return outcome
    os.close(write_fd)
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        _watch(proc, read_fd, outcome, started, timeout_s, on_message, cancel)
    finally:
        # Its group, its session, and what daemonised out of both (a framework's import can).
        reaper.kill_tree(proc.pid, token)
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
        os.close(read_fd)
        if proc.stdout is not None:
            proc.stdout.close()
    outcome.returncode = proc.returncode
    outcome.signal = signal_name(proc.returncode)
    outcome.duration_s = time.monotonic() - started
    return outcome


def _watch(
    proc: subprocess.Popen[bytes],
    channel: int,
    outcome: ChildOutcome,
    started: float,
    timeout_s: float,
    on_message: Callable[[JSON], None] | None,
    cancel: threading.Event | None,
) -> None:
    assert proc.stdout is not None
    output = proc.stdout.fileno()
    os.set_blocking(channel, False)
    os.set_blocking(output, False)
    pending = {channel: b"", output: b""}
    tail = bytearray()
    heard = Heard(started + timeout_s, timeout_s)
    # The pipes read EOF a moment before the child is a zombie: without a descriptor for its
    # exit, the loop slept POLL_S on an empty selector there, and the next child started that
    # much later (probes/gate.py admits it when this one is over).
    exit_fd = reaper.exit_fd(proc.pid)
    nap = EOF_NAP_S
    with contextlib.ExitStack() as stack, selectors.DefaultSelector() as selector:
        if exit_fd is not None:
            stack.callback(os.close, exit_fd)
            selector.register(exit_fd, selectors.EVENT_READ)
        selector.register(channel, selectors.EVENT_READ)
        selector.register(output, selectors.EVENT_READ)
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
            if selector.get_map():
                ready = selector.select(timeout=POLL_S)
            else:  # both pipes at EOF and no exit descriptor: poll for the exit, briefly
                time.sleep(nap)
                nap, ready = min(POLL_S, nap * 2), []
            for key, _ in ready:
                fd = int(key.fd)
                if fd == exit_fd:  # it exited: what is left in the pipes is drained below
                    selector.unregister(fd)
                    continue
                data = _read(fd)
                if data is None:
                    continue
                if not data:  # EOF (the child, and anything holding its fds, closed them)
                    selector.unregister(fd)
                    continue
                if fd == output:
                    tail += data
                    del tail[:-OUTPUT_TAIL_BYTES]
                    continue
                for message in lines(pending, fd, data, outcome):
                    heard.take(message, outcome)
                    if on_message is not None:
                        on_message(message)
            if reaper.exited(proc) or set(selector.get_map()) <= {exit_fd}:
                _drain(channel, output, pending, tail, outcome, on_message)
                if reaper.exited(proc):
                    break
    outcome.output_tail = kept_output(tail)


class Heard:
    """The deadline as the child's messages move it: ``begin`` restarts it, a ``phase`` with its
    own ``timeout_s`` extends it, ``done`` leaves the child EXIT_GRACE_S to exit."""

    def __init__(self, deadline: float, timeout_s: float) -> None:
        self.deadline, self.timeout_s = deadline, timeout_s
        self.done_at: float | None = None

    def take(self, message: JSON, outcome: ChildOutcome) -> None:
        kind = message.get("type")
        if kind == "begin":
            self.deadline = time.monotonic() + self.timeout_s
        elif kind == "phase" and isinstance(message.get("timeout_s"), (int, float)):
            self.deadline = max(self.deadline, time.monotonic() + float(message["timeout_s"]))
        elif kind == "done":
            outcome.done = True
            self.done_at = time.monotonic() + EXIT_GRACE_S


def kept_output(tail: bytearray) -> list[str]:
    """The child's last output lines, as evidence."""
    text = bytes(tail).decode("utf-8", errors="replace")
    # Cleaned here as well as where it is shown: the failure signatures read these lines, and
    # a colour code or a CR in the middle of "undefined symbol" must not hide it from them.
    return [clean(ln).rstrip()[:400] for ln in text.splitlines() if ln.strip()][-20:]


def _read(fd: int) -> bytes | None:
    """Up to 64 KiB; b"" at EOF; None when nothing is there after all."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def lines(pending: dict[int, bytes], fd: int, data: bytes, outcome: ChildOutcome) -> list[JSON]:
    """Complete channel lines as messages; anything that is not a JSON object is counted."""
    buffer = pending[fd] + data
    *complete, rest = buffer.split(b"\n")
    if len(rest) > MAX_MESSAGE_BYTES:
        rest = b""
        outcome.bad_lines += 1
    pending[fd] = rest
    messages = []
    for line in complete:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        too_much = outcome.channel_bytes + len(line) > MAX_CHANNEL_BYTES
        if not isinstance(message, dict) or len(outcome.messages) >= MAX_MESSAGES or too_much:
            outcome.bad_lines += 1
            continue
        outcome.channel_bytes += len(line)
        outcome.messages.append(message)
        messages.append(message)
    return messages


def _drain(
    channel: int,
    output: int,
    pending: dict[int, bytes],
    tail: bytearray,
    outcome: ChildOutcome,
    on_message: Callable[[JSON], None] | None,
) -> None:
    """Read what is already in the pipes without waiting (the child has exited)."""
    for fd in (channel, output):
        for _ in range(256):
            try:
                data = os.read(fd, 65536)
            except OSError:  # empty (EAGAIN) or closed
                break
            if not data:
                break
            if fd == output:
                tail += data
                del tail[:-OUTPUT_TAIL_BYTES]
                continue
            for message in lines(pending, fd, data, outcome):
                if message.get("type") == "done":
                    outcome.done = True
                if on_message is not None:
                    on_message(message)
