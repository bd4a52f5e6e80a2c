"""The main-thread sampler of the profiled script ends before the interpreter finalises."""

from __future__ import annotations

import threading
import time

from dldoctor.profilers.child.frames import FrameSampler


class _Rec:
    """What the sampler reads of the recorder: the main thread, and whether a phase is timed."""

    def __init__(self) -> None:
        self.main_ident = threading.main_thread().ident
        self.activity = None
        self.busy: set[int] = set()


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dldoctor-frames"]


def test_stopping_the_sampler_ends_its_thread_and_keeps_what_it_saw():
    """A daemon thread alive at finalisation is unwound inside torch's static destructors, and
    the script aborts ("terminate called without an active exception"): stop() joins it."""
    sampler = FrameSampler.start(_Rec())
    deadline = time.monotonic() + 10
    while sampler.samples < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _sampler_threads()
    sampler.stop()
    assert not _sampler_threads()
    seen = sampler.report()
    assert seen is not None and seen["samples"] >= 3 and seen["loop_samples"] >= 3
    sampler.stop()  # at exit twice (a second atexit): harmless
