"""Admit the probe children one at a time, in launch order, while a core is free for them.

Started all at once, five children on two cores share them evenly, so the longest (TensorFlow's
import, ~7 CPU s on one thread) ran at half speed and set the wall time. nice(2) does not help
where Linux schedules by autogroup (the default on many distributions): each child leads its own
session and autogroup, and a process's nice value weighs only within its autogroup. So a child
is admitted only when fewer than ``slots`` admitted ones are using the CPU; the longest, first
in the order, runs alone on its core. A child that waits (a wedged driver, a lock) is seen idle
by its CPU time in /proc (time spent waiting for a CPU counts as busy) and stops holding its
slot, so a hang delays the others by a sample, not by its timeout. Where /proc cannot be read,
every admitted child counts as busy, for HOLD_S at most.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

SAMPLE_S = 0.25  # how often a waiting child looks at the running ones' CPU time
IDLE_SHARE = 0.25  # of one core: a child using (or waiting for) less over a sample is idle
SPAWN_WAIT_S = 5.0  # the longest the next child waits for the one before it to be running
# The longest a child holds its core: past this the next one starts beside it anyway (as all
# once did). Where /proc cannot be read (macOS, Windows) this alone ends a hung child's hold.
HOLD_S = 15.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # of /proc/PID/stat


def busy_seconds(pid: int, proc: str = "/proc") -> float | None:
    """Seconds the process used a CPU (all its threads) or waited for one (its main thread's
    time on a run queue), None if unknown. The wait counts as use: on a machine loaded by
    others a child that gets a fifth of a core is starved, not idle."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            stat = f.read(4096)
        # The command name (field 2) may hold spaces and parentheses: count from its end.
        fields = stat[stat.rindex(b")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open(f"{proc}/{pid}/schedstat", "rb") as f:
            waited = int(f.read(256).split()[1]) / 1e9  # ns; absent without schedstats
    except (OSError, ValueError, IndexError):
        waited = 0.0
    return used + waited


class Gate:
    """Tickets in launch order; ``wait`` blocks a ticket's thread until its child may start."""

    def __init__(self, slots: int, cancel: threading.Event) -> None:
        self.slots = max(1, slots)
        self.cancel = cancel
        self.cond = threading.Condition()
        self.issued = 0
        self.serving = 0  # the next ticket to start
        self.turn_since = time.monotonic()
        self.running: dict[int, int | None] = {}  # ticket → its child's pid (None: not known)
        self.since: dict[int, float] = {}  # ticket → when its child started
        self.gone: set[int] = set()  # tickets that ended without starting a child
        self.samples: dict[int, tuple[float, float]] = {}  # ticket → (when, busy_seconds)

    def turn(self) -> Turn:
        """The next place in the launch order (taken in that order, by one thread)."""
        with self.cond:
            self.issued += 1
            return Turn(self, self.issued - 1)

    def wait(self, ticket: int) -> bool:
        """Block until ``ticket``'s child may start; False once the probes are cancelled."""
        with self.cond:
            while not self.cancel.is_set():
                if self.serving > ticket:  # a bound passed this ticket over: start now
                    return True
                if self.serving == ticket and self._busy() < self.slots:
                    return True
                if self.serving < ticket and time.monotonic() - self.turn_since > SPAWN_WAIT_S:
                    self._advance()  # the one before never said it started: go on without it
                    continue
                self.cond.wait(SAMPLE_S)
            return False

    def started(self, ticket: int, pid: int | None) -> None:
        """``ticket``'s child exists: the next ticket's turn."""
        with self.cond:
            self.running[ticket] = pid
            self.since[ticket] = time.monotonic()
            if self.serving == ticket:
                self._advance()
            self.cond.notify_all()

    def finished(self, ticket: int) -> None:
        """``ticket`` is over, whether its child ran or not: its slot, or its turn, is free."""
        with self.cond:
            self.running.pop(ticket, None)
            self.since.pop(ticket, None)
            self.samples.pop(ticket, None)
            self.gone.add(ticket)
            while self.serving in self.gone:
                self._advance()
            self.cond.notify_all()

    def _advance(self) -> None:
        self.serving += 1
        self.turn_since = time.monotonic()
        while self.serving in self.gone:
            self.serving += 1

    def _busy(self) -> int:
        """Admitted children using the CPU: those not seen idle over the last sample."""
        now, busy = time.monotonic(), 0
        for ticket, pid in self.running.items():
            if now - self.since[ticket] > HOLD_S:
                continue
            used = busy_seconds(pid) if pid is not None else None
            if used is None:
                busy += 1
                continue
            sample = self.samples.get(ticket)
            if sample is None or now - sample[0] < SAMPLE_S / 2:  # too soon to judge it
                busy += 1
                self.samples.setdefault(ticket, (now, used))
                continue
            self.samples[ticket] = (now, used)
            if used - sample[1] >= IDLE_SHARE * (now - sample[0]):
                busy += 1
        return busy


@dataclass(frozen=True)
class Turn:
    """One child's place in the gate: wait for it, say the child started, say it is over."""

    gate: Gate | None
    ticket: int = 0

    def wait(self) -> bool:
        return self.gate.wait(self.ticket) if self.gate is not None else True

    def started(self, pid: int | None) -> None:
        if self.gate is not None:
            self.gate.started(self.ticket, pid)

    def finished(self) -> None:
        if self.gate is not None:
            self.gate.finished(self.ticket)


UNGATED = Turn(None)  # a child started at once (a test's, a single probe's)
