"""The gatherers' threads against Ctrl-C: a wait cut short by it leaves the gatherer known to be
running, so the gathering's "no gatherer outlives it" holds (a real SIGINT, in a real process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, signal, threading
    from dldoctor.facts import _Job

    release = threading.Event()
    job = _Job(lambda: release.wait(60) and "gathered")
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        job.result()
        print("not interrupted")
    except KeyboardInterrupt:
        print("interrupted; done:", job.done())
    release.set()
    job.wait()
    print("after the wait; done:", job.done(), "result:", job.result())
    """
)


def test_a_wait_cut_short_by_ctrl_c_still_knows_the_gatherer_runs() -> None:
    # CPython 3.11/3.12's Thread.join, interrupted, marks the thread stopped while it runs:
    # a _Job built on join would say "done" here and hand back no result.
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "interrupted; done: False",
        "after the wait; done: True result: gathered",
    ]
