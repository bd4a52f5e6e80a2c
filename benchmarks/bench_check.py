"""Wall time and peak memory of `dldoctor check` against `python -m torch.utils.collect_env`.

Both run in the same interpreter and environment, interleaved, in one run; figures are medians.
Usage: python benchmarks/bench_check.py [--runs 7]   (needs torch installed in that interpreter)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

# As a user's shell has it: bytecode caches written and used (pip compiled torch's at install;
# the warm-up run below writes dldoctor's when it is installed editable).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB, and exit code of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    return wall_s, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    tools = {
        # --quick: the static check (no framework imported); plain `check` also runs the probes,
        # measured by bench_probes.py.
        "dldoctor check": [python, "-m", "dldoctor", "check", "--quick"],
        "dldoctor check json": [python, "-m", "dldoctor", "check", "--quick", "--format", "json"],
        "torch collect_env": [python, "-m", "torch.utils.collect_env"],
    }
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in tools}
    for argv in tools.values():  # warm the page cache once, unmeasured
        measure(argv)
    for _ in range(args.runs):
        for name, argv in tools.items():
            results[name].append(measure(argv))
    print(f"{'tool':<20} {'median wall s':>14} {'min wall s':>11} {'peak RSS MiB':>13}  exit codes")
    medians = {}
    for name, runs in results.items():
        walls = [r[0] for r in runs]
        medians[name] = statistics.median(walls)
        rss = statistics.median(r[1] for r in runs)
        codes = sorted({r[2] for r in runs})
        print(f"{name:<20} {medians[name]:>14.3f} {min(walls):>11.3f} {rss:>13.1f}  {codes}")
    for name in ("dldoctor check", "dldoctor check json"):
        ratio = medians[name] / medians["torch collect_env"]
        print(f"{name} / collect_env wall-time ratio: {ratio:.3f} (target <= 0.10)")


if __name__ == "__main__":
    main()
