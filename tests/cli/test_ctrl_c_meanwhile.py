"""A Ctrl-C while `check` imports its judges (the probes running) ends the run as one while
waiting for the probes would: the facts kept, the unfinished probes marked, a report to write."""

from __future__ import annotations

import os
import signal
import time

from dldoctor.cli.common import gather_and_probe
from dldoctor.matrix import load


def test_a_ctrl_c_during_the_parents_own_work_is_an_interruption_not_a_lost_report():
    calls: list[float] = []

    def meanwhile() -> None:  # the judges' import, interrupted in its middle
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal is delivered here, inside the work
        calls.append(time.monotonic())  # and the work still ends: no half-done import

    probe = (False, False, "onnxruntime", 60.0, None)  # quick, full, framework, timeout, memory
    facts, source = gather_and_probe(load(), None, 5.0, probe, meanwhile=meanwhile)
    assert len(calls) == 1
    assert facts.runtime["interrupted"] is True
    assert facts.system and facts.packages  # the static facts are all there
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert source.endswith("--framework onnxruntime")


def test_without_a_ctrl_c_the_probes_finish_as_usual():
    facts, _ = gather_and_probe(
        load(), None, 5.0, (False, False, "onnxruntime", 60.0, None), meanwhile=lambda: None
    )
    assert not facts.runtime.get("interrupted")
    assert facts.runtime["frameworks"]["onnxruntime"]["status"] == "pass"
