"""`dldoctor check` (probes + quick smoke on every installed framework) against the commands a
user would run by hand for the same frameworks, one after another, and against env-doctor.

By hand: `python -m torch.utils.collect_env`, `jax.print_environment_info()`,
`paddle.utils.run_check()`, `tf.config.list_physical_devices()`. env-doctor (0.3.5, the closest
competitor) runs `env-doctor check` from its own venv (``--env-doctor PYTHON``); the frameworks'
site-packages are appended to its sys.path, after its own packages, so it sees the same
frameworks. Interleaved rounds in one run (the order alternates), medians; CPU time is the
process tree's (user + system, from wait4), steadier than wall time on a shared machine. The
dldoctor process's own peak RSS is read from its VmHWM in /proc (polled: a high-water mark only
grows), apart from its children's, which wait4 reports.
``--against CHECKOUT`` runs that checkout's `dldoctor check` too, in the same rounds (A/B).
Usage: python benchmarks/bench_probes.py [--runs 5] [--env-doctor /path/to/venv/bin/python]
(Linux; needs the four frameworks)
"""

from __future__ import annotations

import argparse
import os
import site
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# As a user's shell has it: bytecode caches written and used. dldoctor is this checkout's,
# whatever the venv has installed. The commands run in an empty folder: no import from the
# working directory, and env-doctor's code-migration check (it scans the working directory's
# Python files for deprecated imports) has nothing to scan: its fastest case. From "/" it scans
# the whole file system (35 CPU s here).
EMPTY = tempfile.mkdtemp(prefix="bench-probes-")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
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
ENV_DOCTOR = "/work/venvs/env-doctor/bin/python"


def env_doctor(python: str) -> list[str]:
    """`env-doctor check` in its own interpreter, seeing this environment's frameworks too."""
    code = (
        f"import sys; sys.path.append({site.getsitepackages()[0]!r}); "
        "from env_doctor.cli import main; sys.argv = ['env-doctor', 'check']; sys.exit(main())"
    )
    return [python, "-c", code]


def _hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def measure(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall and CPU seconds, the process's own peak RSS (MiB) and its children's, exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or ENV, cwd=EMPTY
    )
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
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "own_mib": own[0] / 1024,
        "tree_max_mib": usage.ru_maxrss / 1024,
        "code": os.waitstatus_to_exitcode(status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--env-doctor", default=ENV_DOCTOR, help="python of env-doctor's venv")
    parser.add_argument("--against", help="another dldoctor checkout, run in the same rounds")
    args = parser.parse_args()
    other = {**ENV, "PYTHONPATH": os.path.abspath(args.against)} if args.against else None
    before: list[dict[str, float]] = []
    competitor = env_doctor(args.env_doctor) if os.path.exists(args.env_doctor) else None
    for argv in [DLDOCTOR, *BY_HAND.values(), *([competitor] if competitor else [])]:
        measure(argv)  # warm the page and bytecode caches, unmeasured
    loads = [os.getloadavg()[0]]
    doctor: list[dict[str, float]] = []
    rival: list[dict[str, float]] = []
    hand: dict[str, list[dict[str, float]]] = {name: [] for name in BY_HAND}
    sums: list[tuple[float, float]] = []

    def by_hand() -> None:
        runs = {name: measure(argv) for name, argv in BY_HAND.items()}
        for name, run in runs.items():
            hand[name].append(run)
        sums.append(
            (sum(r["wall_s"] for r in runs.values()), sum(r["cpu_s"] for r in runs.values()))
        )

    steps = [lambda: doctor.append(measure(DLDOCTOR)), by_hand]
    if competitor:
        steps.append(lambda: rival.append(measure(competitor)))
    if other:
        measure(DLDOCTOR, other)
        steps.append(lambda: before.append(measure(DLDOCTOR, other)))
    for round_ in range(args.runs):
        for step in steps if round_ % 2 == 0 else reversed(steps):
            step()
        loads.append(os.getloadavg()[0])
    print(f"load average (1 min) per round: {', '.join(f'{v:.1f}' for v in loads)}")
    print(f"{'command':<32} {'median wall s':>14} {'min wall s':>11} {'median CPU s':>13}")

    def row(name: str, runs: list[dict[str, float]]) -> tuple[float, float]:
        walls = [r["wall_s"] for r in runs]
        wall, cpu = statistics.median(walls), statistics.median(r["cpu_s"] for r in runs)
        print(f"{name:<32} {wall:>14.3f} {min(walls):>11.3f} {cpu:>13.3f}")
        return wall, cpu

    for name, runs in hand.items():
        row(name, runs)
    summed = statistics.median(w for w, _ in sums), statistics.median(c for _, c in sums)
    print(
        f"{'by hand, summed':<32} {summed[0]:>14.3f} {min(w for w, _ in sums):>11.3f} {summed[1]:>13.3f}"
    )
    wall, cpu = row("dldoctor check", doctor)
    print(
        f"ratio dldoctor / by hand: wall {wall / summed[0]:.3f} (target <= 0.5), "
        f"CPU {cpu / summed[1]:.3f}"
    )
    if rival:
        rival_wall, rival_cpu = row("env-doctor check", rival)
        print(
            f"ratio dldoctor / env-doctor: wall {wall / rival_wall:.3f} (target <= 0.6), "
            f"CPU {cpu / rival_cpu:.3f}; env-doctor exit codes {sorted({r['code'] for r in rival})}"
        )
    if before:
        then_wall, then_cpu = row(f"dldoctor check ({args.against})", before)
        print(
            f"ratio this tree / {args.against}: wall {wall / then_wall:.3f}, CPU {cpu / then_cpu:.3f}; "
            f"that one / by hand: wall {then_wall / summed[0]:.3f}"
        )
    own = statistics.median(d["own_mib"] for d in doctor)
    tree = statistics.median(d["tree_max_mib"] for d in doctor)
    print(
        f"dldoctor process peak RSS: {own:.1f} MiB (max over runs {max(d['own_mib'] for d in doctor):.1f}); "
        f"largest child: {tree:.1f} MiB; exit codes {sorted({d['code'] for d in doctor})}"
    )


if __name__ == "__main__":
    main()
