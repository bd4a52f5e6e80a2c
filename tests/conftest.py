"""Shared fixtures."""

from __future__ import annotations

import signal

import pytest

from dldoctor.matrix import Matrix, load

# The Ctrl-C tests deliver a real SIGINT, to this process or to the commands it starts. A suite
# launched as a background job of a non-interactive shell inherits SIGINT ignored, and Python
# then installs no handler of its own: those tests would read a run that Ctrl-C cannot stop.
# Each worker (and the children it starts, which exec with the default back) gets Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    return load()
