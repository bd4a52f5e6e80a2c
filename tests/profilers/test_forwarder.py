"""The signal forwarder's end: uninstall() wakes its thread at once (no timeout on the exit
path of every run), and the wake-up is never taken for a signal to forward."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from dldoctor.profilers import runner


@pytest.mark.skipif(not hasattr(signal, "sigtimedwait"), reason="the thread is Linux's")
def test_uninstall_wakes_the_signal_thread_and_forwards_nothing(monkeypatch):
    monkeypatch.setattr(runner, "SIGNAL_WAIT_S", 3600.0)  # only the wake-up can end its wait
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    result = runner.RunResult(proc.pid, 0.0, 0.0, None)
    forwarder = runner.SignalForwarder(proc, result)
    try:
        forwarder.install()
        thread = forwarder._thread
        assert thread is not None and thread.is_alive()
        forwarder.uninstall()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert result.forwarded == []
        assert proc.poll() is None  # the wake-up (a SIGHUP) did not reach the script
    finally:
        forwarder._stop.set()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, runner.SignalForwarder.SIGNALS)
        proc.kill()
        proc.wait()
