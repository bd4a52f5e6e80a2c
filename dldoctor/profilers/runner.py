"""Run the script in a child interpreter as ``python SCRIPT ARGS`` would, and watch it.

The child shares dldoctor's terminal, process group, cwd, stdin/stdout/stderr and environment;
its events arrive on a private pipe (an inherited fd the script never sees in its environment).
Signals sent to dldoctor alone are forwarded to the child; a Ctrl-C from the terminal already
reaches the child directly (same process group) and is not sent twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dldoctor.facts import reaper

if TYPE_CHECKING:  # imported while the script starts (session.run), not before
    from dldoctor.profilers.collector import Collector
    from dldoctor.profilers.tree import Tree

ENV = "DLDOCTOR_PROFILE_CHILD"  # read and removed by child/bootstrap.py
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)
_BOOT = (
    "import sys\n"
    "if sys.path[:1] == ['']: del sys.path[0]\n"  # -c put the cwd first; the script's dir goes there
    f"sys.path.append({_PACKAGE_PARENT!r})\n"
    "from dldoctor.profilers.child.bootstrap import main\n"
    f"if sys.path[-1] == {_PACKAGE_PARENT!r}: sys.path.pop()\n"
    "main()\n"
)
STOP_GRACE_S = 10.0  # after the window's end, how long the script may take to exit by itself
# ... when the ranks a launcher started stopped themselves: torchrun's agent polls its ranks
# every few seconds and tears down its rendezvous before it exits.
LAUNCHER_GRACE_S = 30.0
ESCALATE_S = 5.0  # then SIGINT, SIGTERM, SIGKILL, this far apart
_SI_KERNEL = 0x80  # siginfo si_code of a signal the kernel sent: a terminal's Ctrl-C
_WAKE = signal.SIGHUP  # one of SignalForwarder.SIGNALS: wakes its thread at uninstall()
SIGNAL_WAIT_S = 0.5  # the signal thread's timeout, should a wake-up ever be lost


@dataclass(frozen=True)
class Target:
    name: str  # the script's path, or the module's name
    args: tuple[str, ...] = ()
    module: bool = False

    def argv(self) -> list[str]:
        return [sys.executable, "-c", _BOOT, self.name, *self.args]

    def describe(self) -> str:
        """The command as it may be shown (trace, errors): secrets in the arguments withheld."""
        from dldoctor.facts.withhold import safe_args

        words = ["python", *(["-m"] if self.module else []), self.name, *self.args]
        return " ".join(safe_args(words))


@dataclass
class RunResult:
    pid: int
    t_start: float  # perf_counter
    t_end: float
    returncode: int | None
    forwarded: list[str] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)  # signals dldoctor sent to end the window
    error: str | None = None


def start(
    target: Target,
    origin: float,
    steps: int | None,
    duration_s: float | None,
    tree: Tree | None = None,
    extra_env: dict[str, str] | None = None,
    quiet: bool = False,
) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start the child; returns (process, read fd, reaper token). Raises OSError if it cannot
    start. ``origin``: the session's perf_counter time zero. With ``tree``, every Python
    process the script starts is recorded too."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(AttributeError, OSError):
        import fcntl

        fcntl.fcntl(write_fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, so the child never blocks
    config = {"fd": write_fd, "steps": steps, "duration_s": duration_s, "module": target.module}
    config["t0"] = origin
    env, token = reaper.mark(None)  # what the script leaves behind can be found and ended
    env.update(extra_env or {})
    if tree is not None:
        env = tree.env(env, steps, duration_s, origin)
    env[ENV] = json.dumps(config)
    try:
        out = subprocess.DEVNULL if quiet else None
        proc = subprocess.Popen(
            target.argv(), env=env, pass_fds=(write_fd,), stdout=out, stderr=out
        )
    except OSError:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return proc, read_fd, token


QUIET_S = 0.02  # once the child is gone: the channels read until quiet this long


class Done:
    """Set when the child has exited; wakes the reader at once (a pipe it selects on) instead
    of at its next timeout: that wait was part of every run's fixed cost."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.read_fd, self._write_fd = os.pipe()

    def set(self) -> None:
        self._event.set()
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b"x")

    def is_set(self) -> bool:
        return self._event.is_set()

    def close(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def read_events(fds: list[int], collector: Collector, child_done: Done) -> None:
    """Feed the collector from every channel until each reads EOF, or until the child is gone
    and the channels stay quiet for ``QUIET_S`` (a forked grandchild may keep a write end open;
    what the child wrote before it exited is in the pipe already). Usually every channel reads
    EOF at once: the tree's FIFO too, once the session has released its own write end."""
    pending = {fd: b"" for fd in fds}
    try:
        while pending:
            done = child_done.is_set()
            watched = list(pending) if done else [*pending, child_done.read_fd]
            ready, _, _ = select.select(watched, [], [], QUIET_S if done else 0.2)
            if not ready:
                if done:
                    break
                continue
            for fd in ready:
                if fd == child_done.read_fd:
                    continue  # woken: read on, now until the channels are quiet
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:  # a FIFO woken for another reader
                    continue
                if not chunk:
                    del pending[fd]
                    continue
                lines = (pending[fd] + chunk).split(b"\n")
                rest = lines.pop()
                pending[fd] = rest if len(rest) <= 1 << 16 else b""  # no line is this long
                for line in lines:
                    collector.feed(line.decode("utf-8", "replace"))
    finally:
        os.close(fds[0])  # the script's pipe; the tree's FIFO is closed with the tree


class SignalForwarder:
    """Forwards SIGINT/SIGTERM/SIGHUP sent to dldoctor to the child (main thread only).

    On Linux the signals are blocked and taken by ``sigtimedwait`` in a thread, which tells a
    terminal's Ctrl-C (sent by the kernel to the whole foreground group: the child has it
    already) from a ``kill`` aimed at dldoctor alone. Elsewhere, handlers forward every signal
    unless dldoctor's group owns the terminal. A third SIGINT kills the child.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, proc: subprocess.Popen[bytes], result: RunResult) -> None:
        self.proc = proc
        self.result = result
        self.interrupts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._old_handlers: dict[int, object] = {}
        self._blocked = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if hasattr(signal, "sigtimedwait"):
            signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
            self._blocked = True
            self._thread = threading.Thread(target=self._wait, name="dldoctor-signals", daemon=True)
            self._thread.start()
        else:
            for signum in self.SIGNALS:
                self._old_handlers[signum] = signal.signal(signum, self._handler)

    def _wait(self) -> None:
        while not self._stop.is_set():
            # uninstall() wakes this wait with a signal aimed at this thread alone (ours: our
            # pid), so that the end of a run waits for no timeout; the timeout is a safety net.
            info = signal.sigtimedwait(self.SIGNALS, SIGNAL_WAIT_S)
            if info is None:
                continue
            if self._stop.is_set() and info.si_pid == os.getpid():
                return  # the wake-up, never forwarded
            from_terminal = info.si_signo == signal.SIGINT and info.si_code == _SI_KERNEL
            self._forward(info.si_signo, already_delivered=from_terminal)

    def _handler(self, signum: int, frame: object) -> None:
        shared_terminal = False
        with contextlib.suppress(OSError):
            shared_terminal = os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
        self._forward(signum, already_delivered=signum == signal.SIGINT and shared_terminal)

    def _forward(self, signum: int, already_delivered: bool) -> None:
        name = signal.Signals(signum).name
        self.result.forwarded.append(name + (" (from the terminal)" if already_delivered else ""))
        if signum == signal.SIGINT:
            self.interrupts += 1
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.interrupts >= 3:
                self.proc.kill()
            elif not already_delivered:
                self.proc.send_signal(signum)

    def uninstall(self) -> None:
        self._stop.set()
        if self._thread is not None:
            if self._thread.is_alive() and self._thread.ident is not None:
                # Blocked in that thread as in every other: it stays pending for that thread
                # alone, and goes with it if the thread ends first.
                with contextlib.suppress(OSError):
                    signal.pthread_kill(self._thread.ident, _WAKE)
            self._thread.join(timeout=1)
        if self._blocked:
            # Drain what arrived after the child ended, so unblocking does not kill dldoctor
            # before it writes the report.
            while signal.sigtimedwait(self.SIGNALS, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


POLL_S = 0.02  # where no pidfd tells the child's exit (macOS, Linux < 5.3)


def wait(
    proc: subprocess.Popen[bytes],
    result: RunResult,
    collector: Collector,
    deadline: float | None,
    token: str | None = None,
) -> None:
    """Wait for the child; past the window's end (with grace), stop it ever more firmly. When
    dldoctor had to stop it, what it left running (ranks, loader workers) is killed too."""
    stop_at: float | None = None
    escalation = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    exit_fd = reaper.exit_fd(proc.pid)
    while not reaper.exited(proc):  # not reaped yet: its pid cannot be reused meanwhile
        if exit_fd is not None:  # readable when it exits: no polling latency after the end
            select.select([exit_fd], [], [], 0.1)
        else:
            time.sleep(POLL_S)
        now = time.perf_counter()
        if stop_at is None:
            window_over = deadline is not None and now >= deadline
            stopped = [p.pid for p in list(collector.processes.values()) if p.stop]
            if window_over or stopped:
                launched = stopped and proc.pid not in stopped
                stop_at = now + (LAUNCHER_GRACE_S if launched else STOP_GRACE_S)
        elif now >= stop_at and escalation:
            signum = escalation.pop(0)
            result.enforced.append(signal.Signals(signum).name)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
            stop_at = now + ESCALATE_S
    if exit_fd is not None:
        os.close(exit_fd)
    if result.enforced and token is not None:
        reaper.kill_tree(proc.pid, token)
    proc.wait()
    result.returncode = proc.returncode
