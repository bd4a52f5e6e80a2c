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
