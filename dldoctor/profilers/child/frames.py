"""Where the main thread's own Python time goes: sampled from a thread, as py-spy would show it.

A daemon thread reads the main thread's frame (``sys._current_frames``), only while the main
thread is in none of the phases the patches time (a batch fetch, forward, backward, the
optimizer step): that is the loop body's own work. It counts the innermost line in the user's
code (what to change) and the innermost function of all (where the time is spent), in bounded
tables; the totals go to dldoctor once, at exit.

A sample's own work is a few microseconds and a GIL hand-over (each file's library check is
cached); its timed wake-up is most of its cost: ~0.15 ms of CPU on a 2-core VM, which at 100 Hz
was 1.4-1.5 % of a 12 ms training step. So the rate adapts to what the tables need: the
first ``FULL_RATE_SAMPLES`` are taken at ``RATE_HZ`` (a short run is named as finely as
before), then at ``SLOW_RATE_HZ``, each of those counted ``WEIGHT`` times, so that every count
stays in ticks of ``1 / RATE_HZ`` and a share is a share of the time whichever the rate. Each
wait is drawn from +-50 % of the interval: a fixed period could fall in step with a training
loop's and see one phase of every step.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import FrameType

from dldoctor.profilers.child import callsite

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from dldoctor.profilers.child.recorder import Recorder

RATE_HZ = 100.0
FULL_RATE_SAMPLES = 100  # 1 s of training at RATE_HZ: what a short run is named from
SLOW_RATE_HZ = 20.0
WEIGHT = round(RATE_HZ / SLOW_RATE_HZ)  # ticks of 1 / RATE_HZ that a slow sample stands for
MAX_KEYS = 512  # distinct lines kept per table; the rest are counted as "other"
TOP = 5

Key = tuple[str, int, str]


class FrameSampler:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.pid = os.getpid()
        self.taken = 0  # samples read
        self.samples = 0  # every sample, in ticks of 1 / RATE_HZ
        self.loop = 0  # samples outside the timed phases, in ticks
        self.user: dict[Key, int] = {}
        self.leaf: dict[Key, int] = {}
        self.other = 0
        # Held until stop(): the sampler's timed wait is an acquire of it, one C call (an
        # Event's wait is a Condition's, a new lock and Python code at every wake-up: ~95-135
        # against ~75-80 us of CPU per sample here, a torch loop in the main thread).
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, rec: Recorder) -> FrameSampler:
        sampler = cls(rec)
        thread = threading.Thread(target=sampler._run, name="dldoctor-frames", daemon=True)
        sampler._thread = thread
        thread.start()
        return sampler

    def stop(self) -> None:
        """Ended at exit, before the interpreter finalises: a daemon thread still running then
        is unwound by force inside a native library's static destructors, and torch aborts the
        script ("terminate called without an active exception", seen in a forking trainer)."""
        with contextlib.suppress(RuntimeError):  # already released: stopped before
            self._wake.release()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _run(self) -> None:
        main = self.rec.main_ident
        interval, weight = 1.0 / RATE_HZ, 1
        seed = self.pid
        woken = self._wake.acquire
        while os.getpid() == self.pid:
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF  # an LCG: random imports hashlib
            if woken(True, interval * (0.5 + seed / 0x80000000)):
                return  # stop()
            frame = sys._current_frames().get(main)
            if frame is None:  # the main thread has ended
                return
            self.taken += 1
            self.samples += weight
            if self.taken == FULL_RATE_SAMPLES:
                interval, weight = 1.0 / SLOW_RATE_HZ, WEIGHT
            rec = self.rec
            if rec.activity is not None or main in rec.busy:
                continue
            self.loop += weight
            while frame.f_back is not None and _ours(frame.f_code.co_filename):
                frame = frame.f_back  # dldoctor's own flush: charged to the line that called it
            self._count(self.leaf, _key(frame), weight)
            user = _user_frame(frame)
            if user is not None:
                self._count(self.user, _key(user), weight)

    def _count(self, table: dict[Key, int], key: Key, weight: int) -> None:
        if key in table:
            table[key] += weight
        elif len(table) < MAX_KEYS:
            table[key] = weight
        else:
            self.other += weight

    def report(self) -> dict[str, Any] | None:
        if not self.samples:
            return None
        return {
            "rate_hz": RATE_HZ,
            "taken": self.taken,
            "samples": self.samples,
            "loop_samples": self.loop,
            "user": _top(self.user),
            "leaf": _top(self.leaf),
        }


_OURS = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _ours(filename: str) -> bool:
    return filename.startswith(_OURS)


def _key(frame: FrameType) -> Key:
    code = frame.f_code
    return code.co_filename, frame.f_lineno, code.co_name


def _user_frame(frame: FrameType | None) -> FrameType | None:
    depth = 0
    while frame is not None and depth < 64:
        if not callsite._is_library(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
        depth += 1
    return None


def _top(table: dict[Key, int]) -> list[list[Any]]:
    ranked = sorted(table.items(), key=lambda item: -item[1])[:TOP]
    out = []
    for (filename, line, function), count in ranked:
        shown = callsite._describe_path(filename)
        out.append([shown[-120:], line, function[:60], count])
    return out
