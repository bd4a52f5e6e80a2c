"""Wall time, CPU time and peak memory of `dldoctor check --quick` against
`python -m torch.utils.collect_env`.

Both run in the same interpreter and environment, interleaved (the order alternates each round),
in one run; figures are medians. CPU time is the process tree's (user + system, from wait4): on
a shared machine it moves less with the load than wall time. The load average is printed.
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


def measure(argv: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MiB, exit code and CPU seconds of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    cpu_s = usage.ru_utime + usage.ru_stime
    return wall_s, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), cpu_s


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
    results: dict[str, list[tuple[float, float, int, float]]] = {name: [] for name in tools}
    for argv in tools.values():  # warm the page cache once, unmeasured
        measure(argv)
    load = os.getloadavg()[0]
    for round_ in range(args.runs):
        names = list(tools) if round_ % 2 == 0 else list(reversed(tools))
        for name in names:
            results[name].append(measure(tools[name]))
    print(f"load average (1 min) at start {load:.1f}, at end {os.getloadavg()[0]:.1f}")
    print(
        f"{'tool':<20} {'median wall s':>14} {'min wall s':>11} {'median CPU s':>13} "
        f"{'peak RSS MiB':>13}  exit codes"
    )
    medians, cpus = {}, {}
    for name, runs in results.items():
        walls = [r[0] for r in runs]
        medians[name] = statistics.median(walls)
        cpus[name] = statistics.median(r[3] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        codes = sorted({r[2] for r in runs})
        print(
            f"{name:<20} {medians[name]:>14.3f} {min(walls):>11.3f} {cpus[name]:>13.3f} "
            f"{rss:>13.1f}  {codes}"
        )
    for name in ("dldoctor check", "dldoctor check json"):
        ratio = medians[name] / medians["torch collect_env"]
        cpu_ratio = cpus[name] / cpus["torch collect_env"]
        print(f"{name} / collect_env: wall {ratio:.3f} (target <= 0.10), CPU {cpu_ratio:.3f}")


if __name__ == "__main__":
    main()
