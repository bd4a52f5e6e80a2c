"""The bootstrap of a process the script started (a rank, a spawned worker): record it too.

Imported by the ``sitecustomize`` that ``profilers/tree.py`` puts on ``PYTHONPATH``, at the
start of every descendant interpreter. The script's own process is set up by ``bootstrap``
instead, and a forked process keeps its parent's recorder (``Recorder`` handles the fork).
"""

from __future__ import annotations

import atexit
import json
import os
import sys

from dldoctor.profilers.child import bootstrap
from dldoctor.profilers.child.recorder import Recorder

ENV = "DLDOCTOR_PROFILE_TREE"  # set by profilers/tree.py


def start() -> None:
    """Start recording this process; never raises (an unprofiled run beats a broken one)."""
    if bootstrap.ENV in os.environ:  # the script's own interpreter: bootstrap.main sets it up
        return
    try:
        config = json.loads(os.environ.get(ENV, ""))
        # Non-blocking open: with dldoctor gone (no reader) it fails at once (ENXIO).
        fd = os.open(str(config["fifo"]), os.O_WRONLY | os.O_NONBLOCK)
    except (OSError, ValueError, KeyError, TypeError):
        return
    os.set_blocking(fd, True)
    duration_s = config.get("duration_s")
    deadline = None if duration_s is None else float(config["t0"]) + float(duration_s)
    rec = Recorder(fd, config.get("steps"), deadline)
    atexit.register(rec.finish)
    rec.event("H", bootstrap.hello(list(getattr(sys, "argv", []))))
    bootstrap.instrument(rec)
