"""Per-step overhead of `dldoctor profile` on PyTorch, TensorFlow (Keras fit) and Paddle.

Each framework's workload is a small MLP trained on in-memory batches of 16, every step
through the seams dldoctor patches (the loader's fetch, forward, backward, the optimizer, the
gradient sample every 16th step), plus a 10 ms sleep in the loop body that stands for the
device's time (a GPU step's host waits): a step of ~11-13 ms, close to the short steps where
a per-step cost shows most. Run plain and profiled, a short and a long run, alternating,
``runs`` times. From the medians: the wall-clock overhead is fixed + per_step x steps, the
fixed cost the intercept and the per-step cost the slope; and, apart from start-up entirely,
the per-step overhead of the loop's own time (the script times its steps), paired run by run,
of its p10 and fastest steps, and of the CPU time per step (the process's, every thread, and
the main thread's), with dldoctor's own process's CPU per step beside it.

    python benchmarks/bench_profile.py --per-step --runs 5
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

COMMON = r"""
import argparse, json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, required=True)
p.add_argument("--truth", required=True)
ARGS = p.parse_args()
DEVICE_S = 0.010  # the device's share of a step: the host waits

STARTS = []  # each step's start: (perf_counter, this process's CPU time, the main thread's)

def mark():
    STARTS.append((time.perf_counter(), time.process_time(), time.thread_time()))

def done(started, steps):
    loop = time.perf_counter() - started
    def quantile(column, q):
        each = sorted(b[column] - a[column] for a, b in zip(STARTS, STARTS[1:]))
        return each[int(q * (len(each) - 1))]
    with open(ARGS.truth, "w") as f:
        json.dump({"loop_s": loop, "steps": steps, "p10_s": quantile(0, 0.1),
                   "p50_s": quantile(0, 0.5), "min_s": quantile(0, 0.0),
                   # CPU per step, every thread of the process (dldoctor's in it too) and the
                   # main thread's: what the machine's load barely changes, unlike wall time.
                   "cpu_p50_s": quantile(1, 0.5), "main_cpu_p50_s": quantile(2, 0.5),
                   "cpu_mean_s": (STARTS[-1][1] - STARTS[0][1]) / (len(STARTS) - 1)}, f)
"""

TORCH = r"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0); torch.set_num_threads(1)
model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
data = TensorDataset(torch.randn(16 * ARGS.steps, 256), torch.randint(0, 10, (16 * ARGS.steps,)))
started, steps = None, 0
for x, y in DataLoader(data, batch_size=16):
    mark()
    if started is None:
        started = time.perf_counter()
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    time.sleep(DEVICE_S)
    steps += 1
done(started, steps)
"""

TENSORFLOW = r"""
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.random.set_seed(0)
model = tf.keras.Sequential([tf.keras.Input((256,)), tf.keras.layers.Dense(512, activation="relu"),
                             tf.keras.layers.Dense(10)])
model.compile(optimizer="sgd",
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.rand(16 * ARGS.steps, 256).astype("float32")
y = np.random.randint(0, 10, 16 * ARGS.steps)
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

class Clock(tf.keras.callbacks.Callback):
    started, steps = None, 0
    def on_train_batch_begin(self, batch, logs=None):
        mark()
        if self.started is None:
            self.started = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(DEVICE_S)
        self.steps += 1

clock = Clock()
model.fit(ds, epochs=1, verbose=0, callbacks=[clock])
done(clock.started, clock.steps)
"""

PADDLE = r"""
import numpy as np
import paddle
from paddle.io import DataLoader, TensorDataset
paddle.set_device("cpu"); paddle.seed(0)
model = paddle.nn.Sequential(paddle.nn.Linear(256, 512), paddle.nn.ReLU(), paddle.nn.Linear(512, 10))
opt = paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())
loss_fn = paddle.nn.CrossEntropyLoss()
x = paddle.to_tensor(np.random.rand(16 * ARGS.steps, 256).astype("float32"))
y = paddle.to_tensor(np.random.randint(0, 10, (16 * ARGS.steps, 1)).astype("int64"))
started, steps = None, 0
for xb, yb in DataLoader(TensorDataset([x, y]), batch_size=16):
    mark()
    if started is None:
        started = time.perf_counter()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()
    opt.clear_grad()
    time.sleep(DEVICE_S)
    steps += 1
done(started, steps)
"""

WORKLOADS = {"torch": TORCH, "tensorflow": TENSORFLOW, "paddle": PADDLE}

# The command's exit code, wall time and the CPU time of its whole process tree.
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.returncode, time.perf_counter() - t, u.ru_utime + u.ru_stime)"
)


def _measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, float]:
    # cwd: `python -m dldoctor` puts it first on sys.path (a checkout there would win).
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, env=env, cwd=cwd
    ).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def per_step(
    runs: int,
    work: Path,
    root: Path,
    short: int = 40,
    long: int = 440,
    only: str = "",
    against: Path | None = None,
) -> dict[str, Any]:
    """Fixed cost (intercept) and per-step overhead (slope) for each framework's workload;
    with ``against``, that tree's profiled runs too, interleaved with this one's (each
    against the plain run of its round)."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"dldoctor": root, **({"against": against} if against else {})}
    envs = {
        how: {**base, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": str(work / f"pyc-{how}")}
        for how, tree in trees.items()
    }
    envs["plain"] = envs["dldoctor"]
    found: dict[str, Any] = {"load_average_1min": [round(os.getloadavg()[0], 2)]}
    for name, body in WORKLOADS.items():
        if only and name != only:
            continue
        script = work / f"steps_{name}.py"
        script.write_text(COMMON + body)
        truth = work / f"truth_{name}.json"
        walls: dict[str, list[float]] = {}
        loops: dict[str, list[float]] = {}
        quick: dict[str, list[float]] = {}  # the long runs' p10 step: robust to the load
        fastest: dict[str, list[float]] = {}  # and their fastest step
        cpus: dict[str, list[float]] = {}
        per_cpu: dict[str, dict[str, list[float]]] = {}  # the long runs' CPU per step
        own: dict[str, list[tuple[float, float]]] = {}  # dldoctor's process: CPU s, wall s
        failed = []
        for run in range(runs + 1):  # the first round warms the caches, untimed
            for steps in (short, long):
                for how in ("plain", *trees):
                    argv = [str(script), "--steps", str(steps), "--truth", str(truth)]
                    if how != "plain":
                        argv = ["-m", "dldoctor", "profile", "--json", str(work / "r.json"), *argv]
                    code, wall, cpu = _measure([sys.executable, *argv], envs[how], work)
                    if code != 0 or not truth.exists():
                        failed.append(f"{how} {steps}: exit {code}")
                        continue
                    told = json.loads(truth.read_text())
                    truth.unlink()
                    if run == 0:
                        continue
                    key = f"{how} {steps}"
                    walls.setdefault(key, []).append(round(wall, 3))
                    cpus.setdefault(key, []).append(round(cpu, 3))
                    loops.setdefault(key, []).append(round(told["loop_s"] / told["steps"], 6))
                    if steps == long:
                        quick.setdefault(how, []).append(told["p10_s"])
                        fastest.setdefault(how, []).append(told["min_s"])
                        for column in ("cpu_p50_s", "main_cpu_p50_s", "cpu_mean_s"):
                            per_cpu.setdefault(column, {}).setdefault(how, []).append(told[column])
                    if how != "plain":
                        report = json.loads((work / "r.json").read_text())
                        own.setdefault(f"{how} {steps}", []).append(
                            (report["profile"]["sampling"]["dldoctor_cpu_s"], wall)
                        )
            print(f"{name}: round {run}/{runs}", file=sys.stderr)
        for tree in trees:  # each tree's figures as if it were the only one
            key = name if tree == "dldoctor" else f"{name} (against)"
            if failed:
                found[key] = {"failed": failed}
                continue

            def view(table: dict[str, Any], tree: str = tree) -> dict[str, Any]:
                keep = {k: v for k, v in table.items() if k.split()[0] in ("plain", tree)}
                return {k.replace(tree, "dldoctor", 1): v for k, v in keep.items()}

            found[key] = _fit(view(walls), view(loops), view(cpus), short, long)
            found[key].update(_quantile_overhead(view(quick)))
            found[key].update(_quantile_overhead(view(fastest), "min"))
            own_tree = {int(k.split()[1]): v for k, v in own.items() if k.split()[0] == tree}
            cpu_view = {column: view(table) for column, table in per_cpu.items()}
            found[key].update(_cpu_overhead(cpu_view, quick["plain"], own_tree, short, long))
        found["load_average_1min"].append(round(os.getloadavg()[0], 2))
    return found


def _cpu_overhead(
    per_cpu: dict[str, dict[str, list[float]]],
    plain_p10: list[float],
    own: dict[int, list[tuple[float, float]]],
    short: int,
    long: int,
) -> dict[str, Any]:
    """The per-step overhead as CPU time, which the machine's load barely changes: what the
    profiled process spends per step (every thread: the hooks and dldoctor's sampler thread
    inside it) beyond the plain one, run by run (each profiled run against the plain run
    just before it), over the plain step's time (its p10: a step left alone). On a quiet
    machine a step grows by that CPU at most. dldoctor's own process (NVML and /proc
    sampling) works on another core; its CPU per step is the slope of its CPU time."""
    step_s = statistics.median(plain_p10)
    found: dict[str, Any] = {}
    for column, runs in per_cpu.items():
        key = column.removesuffix("_s")
        pairs = [d - p for d, p in zip(runs["dldoctor"], runs["plain"])]
        found[f"{key}_step_us"] = {
            how: round(statistics.median(vs) * 1e6, 1) for how, vs in runs.items()
        }
        found[f"{key}_overhead_us_runs"] = [round(d * 1e6, 1) for d in pairs]
        found[f"{key}_overhead_share"] = round(statistics.median(pairs) / step_s, 4)
    (cpu_short, wall_short), (cpu_long, wall_long) = (
        tuple(statistics.median(x) for x in zip(*own[n])) for n in (short, long)
    )
    found["dldoctor_process_cpu_per_step_us"] = round(
        (cpu_long - cpu_short) / (long - short) * 1e6, 1
    )
    found["dldoctor_process_cores"] = round((cpu_long - cpu_short) / (wall_long - wall_short), 4)
    return found


def _quantile_overhead(quick: dict[str, list[float]], name: str = "p10") -> dict[str, Any]:
    """The per-step overhead from the fastest steps (the p10 of each long run's steps, or its
    fastest, the median over runs): what a step costs when the machine's other load leaves
    it alone."""
    plain, profiled = statistics.median(quick["plain"]), statistics.median(quick["dldoctor"])
    return {
        f"{name}_step_ms": {"plain": round(plain * 1e3, 3), "dldoctor": round(profiled * 1e3, 3)},
        f"{name}_step_runs_ms": {k: [round(v * 1e3, 3) for v in vs] for k, vs in quick.items()},
        f"{name}_per_step_overhead_us": round((profiled - plain) * 1e6, 1),
        f"{name}_per_step_overhead_share": round(profiled / plain - 1, 4),
    }


def _fit(
    walls: dict[str, list[float]],
    loops: dict[str, list[float]],
    cpus: dict[str, list[float]],
    short: int,
    long: int,
) -> dict[str, Any]:
    med = {k: statistics.median(v) for k, v in walls.items()}
    d_short = med[f"dldoctor {short}"] - med[f"plain {short}"]
    d_long = med[f"dldoctor {long}"] - med[f"plain {long}"]
    slope = (d_long - d_short) / (long - short)
    plain_step = (med[f"plain {long}"] - med[f"plain {short}"]) / (long - short)
    # The loop's own per-step time, each profiled run against the plain run just before it.
    paired = [d / p - 1 for d, p in zip(loops[f"dldoctor {long}"], loops[f"plain {long}"])]
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    cpu_slope = (
        cpu_med[f"dldoctor {long}"]
        - cpu_med[f"plain {long}"]
        - (cpu_med[f"dldoctor {short}"] - cpu_med[f"plain {short}"])
    ) / (long - short)
    return {
        "walls_s": walls,
        "plain_step_ms": round(plain_step * 1e3, 3),
        "fixed_cost_intercept_s": round(d_short - slope * short, 3),
        "per_step_overhead_ms": round(slope * 1e3, 3),
        "per_step_overhead_share": round(slope / plain_step, 4) if plain_step > 0 else None,
        "loop_step_ms": {k: round(statistics.median(v) * 1e3, 3) for k, v in loops.items()},
        "loop_per_step_share_paired": round(statistics.median(paired), 4),
        "loop_per_step_share_runs": [round(p, 4) for p in paired],
        "cpu_per_step_ms": round(cpu_slope * 1e3, 3),
    }
