"""The main-thread sampler of the profiled script ends before the interpreter finalises."""

from __future__ import annotations

import os
import threading
import time

from dldoctor.profilers.child import callsite, frames
from dldoctor.profilers.child.frames import FrameSampler


class _Rec:
    """What the sampler reads of the recorder: the main thread, and whether a phase is timed."""

    def __init__(self) -> None:
        self.main_ident = threading.main_thread().ident
        self.activity = None
        self.busy: set[int] = set()


def test_stopping_the_sampler_ends_its_thread_and_keeps_what_it_saw():
    """A daemon thread alive at finalisation is unwound inside torch's static destructors, and
    the script aborts ("terminate called without an active exception"): stop() joins it."""
    sampler = FrameSampler.start(_Rec())
    deadline = time.monotonic() + 10
    while sampler.samples < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread = next(t for t in threading.enumerate() if t is sampler._thread)
    assert thread.name == "dldoctor-frames" and thread.daemon
    sampler.stop()
    assert not thread.is_alive()  # (other tests' recorders in this process may hold their own)
    seen = sampler.report()
    assert seen is not None and seen["samples"] >= 3 and seen["loop_samples"] >= 3
    sampler.stop()  # at exit twice (a second atexit): harmless


def test_whether_a_file_is_library_code_is_resolved_once_per_file(monkeypatch, tmp_path):
    """The sampler asks for every frame it walks, ~100 times a second: each answer once (a
    realpath is a stat per part of the path), and the same answer as resolving it anew."""
    resolved: list[str] = []
    real = os.path.realpath

    def counting(path, *args, **kwargs):
        resolved.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(callsite, "_KNOWN", {})
    monkeypatch.setattr(callsite.os.path, "realpath", counting)
    library, user = threading.__file__, str(tmp_path / "train.py")
    first = [callsite._is_library(library), callsite._is_library(user)]
    after = [callsite._is_library(f) for f in (library, user) * 50]
    assert first == [True, False] and after == first * 50
    assert resolved.count(library) == 1 and resolved.count(user) == 1


def test_the_answers_kept_are_bounded(monkeypatch, tmp_path):
    """A script that generates code may have any number of file names."""
    monkeypatch.setattr(callsite, "_KNOWN", {})
    monkeypatch.setattr(callsite, "_KNOWN_MAX", 10)
    answers = {callsite._is_library(str(tmp_path / f"gen_{i}.py")) for i in range(50)}
    assert answers == {False} and len(callsite._KNOWN) == 10


def _early(sampler: FrameSampler, taken: int, deadline: float) -> None:
    while sampler.taken < taken and time.monotonic() < deadline:
        pass


def _late(sampler: FrameSampler, taken: int, deadline: float) -> None:
    while sampler.taken < taken and time.monotonic() < deadline:
        pass


def test_samples_taken_at_the_lower_rate_count_for_the_time_they_stand_for(monkeypatch):
    """After its first samples the sampler slows down (its wake-ups are most of its cost); a
    share must still be a share of the time: the main thread spins in _early() for the first
    20 samples (full rate) and in _late() for the next 30 (slow rate, each standing for
    ``WEIGHT`` ticks), so _late() holds 30 * WEIGHT of 20 + 30 * WEIGHT ticks (0.88), not 30
    of 50 samples (0.6)."""
    monkeypatch.setattr(frames, "FULL_RATE_SAMPLES", 20)
    sampler = FrameSampler.start(_Rec())
    deadline = time.monotonic() + 60
    _early(sampler, 20, deadline)
    _late(sampler, 50, deadline)
    sampler.stop()
    seen = sampler.report()
    assert seen is not None and seen["taken"] >= 50
    assert seen["samples"] == 20 + (seen["taken"] - 20) * frames.WEIGHT  # ticks, not samples
    ticks = {row[2]: row[3] for row in seen["leaf"]}
    share = ticks["_late"] / seen["loop_samples"]
    assert share >= 30 * frames.WEIGHT / (20 + 30 * frames.WEIGHT) - 0.1, ticks


def test_the_sampler_waits_a_varied_interval_around_its_rate(monkeypatch):
    """A fixed period can fall in step with a training loop's and see one phase of every step:
    the waits are drawn within +-50 % of the interval, never all the same."""
    waits: list[float] = []

    class Counting:  # the sampler's timed wait: an acquire of its wake-up lock
        def acquire(self, blocking: bool, timeout: float) -> bool:
            waits.append(timeout)
            return len(waits) > 40

    sampler = FrameSampler(_Rec())
    sampler._wake = Counting()  # type: ignore[assignment]
    sampler._run()
    interval = 1 / frames.RATE_HZ
    assert all(0.5 * interval <= w <= 1.5 * interval for w in waits)
    assert len({round(w, 6) for w in waits}) > 30
