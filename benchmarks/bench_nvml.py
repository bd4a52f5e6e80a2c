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
from tests.fakes import fake_libnvml  # noqa: E402  (the fake library's one builder)


def measure(tree: str, lib: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = tree
    if lib:
        env["LD_LIBRARY_PATH"] = lib
    argv = [sys.executable, "-m", "dldoctor", "check", "--quick", "--format", "json"]
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


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
        walls: dict[tuple[str, str | None], list[float]] = {case: [] for case in cases}
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        for _ in range(args.runs):
            for case in cases:
                walls[case].append(measure(*case))
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"{'tree':<40} {'NVML library':<14} {'median s':>9} {'min s':>7}")
    for (tree, where), runs in walls.items():
        found = "fake (ok)" if where else "none"
        print(f"{tree:<40} {found:<14} {statistics.median(runs):>9.3f} {min(runs):>7.3f}")
    for tree in args.trees:
        added = statistics.median(walls[(tree, lib)]) - statistics.median(walls[(tree, None)])
        print(f"{tree}: the library costs {added * 1000:+.0f} ms (median of each)")


if __name__ == "__main__":
    main()
