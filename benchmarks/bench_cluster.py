"""`dldoctor check --cluster` with 4 local ranks against 4 `dldoctor check` runs one after another.

What a user would otherwise do to check 4 ranks' worth of machine: run `dldoctor check` 4 times.
Under torchrun one process per node gathers and probes (local rank 0); every rank imports torch
once in its c10d child for the rendezvous and the collectives. Interleaved rounds, medians; the
load average is printed with the figures (the development machine is shared).
Usage: python benchmarks/bench_cluster.py [--runs 1] [--quick]   (Linux; torch and torchrun installed)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
PY = sys.executable
TORCHRUN = str(Path(PY).parent / "torchrun")
RANKS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seconds(argvs: list[list[str]]) -> float:
    """Wall time of these commands run one after another (exit 0 or 1: healthy or findings)."""
    start = time.perf_counter()
    for argv in argvs:
        done = subprocess.run(
            argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if done.returncode not in (0, 1):
            sys.exit(f"{argv[:4]} failed ({done.returncode}): {done.stderr[-400:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="static facts only, in both")
    options = parser.parse_args()
    flags = ["--quick"] if options.quick else []
    sequential = [[PY, "-m", "dldoctor", "check", *flags] for _ in range(RANKS)]
    cluster, alone = [], []
    for i in range(options.runs):
        launch = [TORCHRUN, "--nnodes=1", f"--nproc-per-node={RANKS}", "--master-addr=127.0.0.1",
                  f"--master-port={free_port()}", "-m", "dldoctor", "check", "--cluster", *flags]  # fmt: skip
        first, second = (cluster, alone) if i % 2 == 0 else (alone, cluster)
        first.append(seconds([launch] if first is cluster else sequential))
        second.append(seconds([launch] if second is cluster else sequential))
    c, s = statistics.median(cluster), statistics.median(alone)
    load = os.getloadavg()
    print(f"{RANKS} ranks, {options.runs} run(s), {'--quick' if options.quick else 'probes'}")
    print(f"  --cluster under torchrun:      {c:7.2f} s")
    print(f"  {RANKS} x dldoctor check in a row: {s:7.2f} s")
    print(
        f"  ratio: {c / s:.2f}  (target <= 0.5)   load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
