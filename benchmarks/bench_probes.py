"""`dldoctor check` (probes + quick smoke on every installed framework) against the commands a
user would run by hand for the same frameworks, one after another.

By hand: `python -m torch.utils.collect_env`, `jax.print_environment_info()`,
`paddle.utils.run_check()`, `tf.config.list_physical_devices()`. Interleaved rounds in one run
(the order alternates), medians. The dldoctor process's own peak RSS is read from its VmHWM in
/proc (polled: a high-water mark only grows), apart from its children's, which wait4 reports.
Usage: python benchmarks/bench_probes.py [--runs 5]   (Linux; needs the four frameworks)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

# As a user's shell has it: bytecode caches written and used.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PY = sys.executable
BY_HAND = {
    "torch collect_env": [PY, "-m", "torch.utils.collect_env"],
    "jax print_environment_info": [PY, "-c", "import jax; jax.print_environment_info()"],
    "paddle run_check": [PY, "-c", "import paddle; paddle.utils.run_check()"],
    "tf list_physical_devices": [
        PY,
        "-c",
        "import tensorflow as tf; print(tf.config.list_physical_devices())",
    ],
}
DLDOCTOR = [PY, "-m", "dldoctor", "check"]


def _hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def measure(argv: list[str]) -> dict[str, float]:
    """Wall seconds, the process's own peak RSS (MiB) and its children's (MiB), exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    own = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            value = _hwm_kib(proc.pid)
            if value:
                own[0] = max(own[0], value)
            done.wait(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    poller.join()
    # ru_maxrss of a reaped process is the larger of its own peak and its children's.
    return {
        "wall_s": wall,
        "own_mib": own[0] / 1024,
        "tree_max_mib": usage.ru_maxrss / 1024,
        "code": os.waitstatus_to_exitcode(status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for argv in [DLDOCTOR, *BY_HAND.values()]:  # warm the page and bytecode caches, unmeasured
        measure(argv)
    doctor: list[dict[str, float]] = []
    hand: dict[str, list[float]] = {name: [] for name in BY_HAND}
    sums: list[float] = []
    for round_ in range(args.runs):

        def by_hand() -> None:
            total = 0.0
            for name, argv in BY_HAND.items():
                wall = measure(argv)["wall_s"]
                hand[name].append(wall)
                total += wall
            sums.append(total)

        if round_ % 2:
            by_hand()
            doctor.append(measure(DLDOCTOR))
        else:
            doctor.append(measure(DLDOCTOR))
            by_hand()
    print(f"{'command':<32} {'median wall s':>14} {'min wall s':>11}")
    for name, walls in hand.items():
        print(f"{name:<32} {statistics.median(walls):>14.3f} {min(walls):>11.3f}")
    summed = statistics.median(sums)
    print(f"{'by hand, summed':<32} {summed:>14.3f} {min(sums):>11.3f}")
    walls = [d["wall_s"] for d in doctor]
    wall = statistics.median(walls)
    print(f"{'dldoctor check':<32} {wall:>14.3f} {min(walls):>11.3f}")
    own = statistics.median(d["own_mib"] for d in doctor)
    tree = statistics.median(d["tree_max_mib"] for d in doctor)
    print(
        f"dldoctor process peak RSS: {own:.1f} MiB (max over runs {max(d['own_mib'] for d in doctor):.1f}); "
        f"largest child: {tree:.1f} MiB; exit codes {sorted({d['code'] for d in doctor})}"
    )
    print(
        f"ratio dldoctor / by hand: {wall / summed:.3f} (target <= 0.6); "
        f"parent RSS target < 80 MB: {'met' if max(d['own_mib'] for d in doctor) * 1.048576 < 80 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
