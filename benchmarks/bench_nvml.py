"""What asking NVML in a child costs `dldoctor check --quick`, against asking it in-process.

A machine with a driver is faked by a libnvidia-ml.so.1 compiled here (``tests/fakes``: driver
580.65.06, no GPU) put first on LD_LIBRARY_PATH; without it this machine has no NVML library,
and then no child starts at all. Each source tree given is run both ways, interleaved, medians.
Usage: python benchmarks/bench_nvml.py [--runs 15] TREE [BASELINE_TREE]
(TREE: a dldoctor checkout; BASELINE_TREE: one from before the NVML child, e.g. an older main).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes import fake_libnvml  # the fake library's one builder


def measure(tree: str, lib: str | None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the whole process tree (the NVML child included: it is
    reaped by dldoctor, so its time is in dldoctor's); CPU time hardly moves with the load."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = tree
    if lib:
        env["LD_LIBRARY_PATH"] = lib
    argv = [sys.executable, "-m", "dldoctor", "check", "--quick", "--format", "json"]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("trees", nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        lib = str(fake_libnvml.build(Path(scratch), "ok"))
        cases = [(tree, where) for tree in args.trees for where in (None, lib)]
        for tree, where in cases:  # warm the page cache and bytecode, unmeasured
            measure(tree, where)
        runs: dict[tuple[str, str | None], list[tuple[float, float]]] = {c: [] for c in cases}
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        for _ in range(args.runs):
            for case in cases:
                runs[case].append(measure(*case))
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    wall = {case: statistics.median(r[0] for r in got) for case, got in runs.items()}
    cpu = {case: statistics.median(r[1] for r in got) for case, got in runs.items()}
    print(f"{'tree':<30} {'NVML library':<13} {'median wall s':>14} {'median CPU s':>13}")
    for tree, where in cases:
        found = "fake (ok)" if where else "none"
        print(f"{tree:<30} {found:<13} {wall[(tree, where)]:>14.3f} {cpu[(tree, where)]:>13.3f}")
    for tree in args.trees:
        added_wall = (wall[(tree, lib)] - wall[(tree, None)]) * 1000
        added_cpu = (cpu[(tree, lib)] - cpu[(tree, None)]) * 1000
        print(f"{tree}: with the library {added_wall:+.0f} ms wall, {added_cpu:+.0f} ms CPU")


if __name__ == "__main__":
    main()
