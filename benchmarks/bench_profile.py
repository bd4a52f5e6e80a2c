"""`dldoctor profile` against a plain run, torch.profiler (whole loop, scheduled) and py-spy.

Overhead: one ~20 s CPU PyTorch training script with a known data stall (each item sleeps), run
plain and under each tool, interleaved round-robin, ``--runs`` times; medians of the whole
command's wall time, the in-script loop time, and peak RSS (the largest process). Accuracy: the
data-wait fraction dldoctor measures against the one the scripts time themselves, over
PyTorch (0, 2 and 4 workers, and no stall), TensorFlow (custom loop, Keras fit) and Paddle.

    python benchmarks/bench_profile.py --runs 3        # py-spy: pip install py-spy (optional)
    python benchmarks/bench_profile.py --per-step --runs 5   # torch, TF, Paddle: per step

Writes ``benchmarks/out/profile.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "profilers" / "scripts"
OUT = ROOT / "benchmarks" / "out"

WORKLOAD = r'''
"""~20 s of CPU training: MLP 512-1024-1024-1024-10, batches of 16 whose items sleep 1 ms."""
import argparse, json, sys, time
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

class Sleepy(Dataset):
    def __len__(self):
        return 16 * ARGS.steps
    def __getitem__(self, i):
        time.sleep(0.001)
        return torch.randn(512), i % 10

def loop(loader, model, opt, loss_fn, prof=None):
    wait, t_loop = 0.0, time.perf_counter()
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            wait += time.perf_counter() - t0
            break
        wait += time.perf_counter() - t0
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if prof is not None:
            prof.step()
    return wait, time.perf_counter() - t_loop

def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                          nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(Sleepy(), batch_size=16, num_workers=ARGS.workers)
    from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler
    if ARGS.mode == "profiler":
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            wait, t = loop(loader, model, opt, loss_fn)
        prof.key_averages().table(sort_by="cpu_time_total", row_limit=15)
        prof.export_chrome_trace(ARGS.out + "/torch_trace.json")
    elif ARGS.mode == "profiler-sched":
        with profile(activities=[ProfilerActivity.CPU],
                     schedule=schedule(wait=1, warmup=1, active=3, repeat=2),
                     on_trace_ready=tensorboard_trace_handler(ARGS.out + "/tb")) as prof:
            wait, t = loop(loader, model, opt, loss_fn, prof)
    else:
        wait, t = loop(loader, model, opt, loss_fn)
    print(json.dumps({"wait_s": wait, "loop_s": t, "fraction": wait / t}), file=sys.stderr)
    with open(ARGS.truth, "w") as f:
        json.dump({"wait_s": wait, "loop_s": t, "fraction": wait / t}, f)

p = argparse.ArgumentParser()
p.add_argument("--mode", default="none")
p.add_argument("--steps", type=int, default=600)
p.add_argument("--workers", type=int, default=0)
p.add_argument("--out", default=".")
p.add_argument("--truth", required=True)
ARGS = p.parse_args()
main()
'''

HOOK_COST = r'''
"""Cost of the batch hook: a DataLoader over 20,000 in-memory items, batch_size=1, no work."""
import json, sys, time
import torch
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(TensorDataset(torch.zeros(20000, 1)), batch_size=1)
for _ in loader:  # warm up
    break
started = time.perf_counter()
for _ in loader:
    pass
print(json.dumps({"per_batch_us": (time.perf_counter() - started) / len(loader) * 1e6}))
'''


def hook_cost(runs: int, work: Path) -> dict[str, object]:
    """Per-batch time of a loop that does nothing but fetch: plain vs under dldoctor profile
    (best of ``runs``: the least disturbed run on a shared machine)."""
    script = work / "hook_cost.py"
    script.write_text(HOOK_COST)
    times: dict[str, list[float]] = {"plain": [], "dldoctor": []}
    for _ in range(runs):
        for name in times:
            prefix = [sys.executable] + (
                ["-m", "dldoctor", "profile"] if name == "dldoctor" else []
            )
            out = subprocess.run(
                [*prefix, str(script)], capture_output=True, text=True, check=True
            ).stdout
            times[name].append(json.loads(out.strip().splitlines()[-1])["per_batch_us"])
    plain, profiled = min(times["plain"]), min(times["dldoctor"])
    return {
        "in_process_hook_us": round(_in_process_hook_us(), 2),
        "plain_per_batch_us": round(plain, 2),
        "dldoctor_per_batch_us": round(profiled, 2),
        "hook_cost_per_batch_us": round(profiled - plain, 2),
        "runs": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
    }


def _in_process_hook_us(calls: int = 200_000) -> float:
    """The child-side cost of one timed fetch (``Recorder.timed`` around a no-op ``__next__``,
    events written to a drained pipe), best of 3."""
    import threading

    from dldoctor.profilers.child.recorder import Recorder

    read_fd, write_fd = os.pipe()

    def drain() -> None:
        while os.read(read_fd, 1 << 16):
            pass

    threading.Thread(target=drain, daemon=True).start()
    rec = Recorder(write_fd, None, None)

    def fetch(_: object) -> int:
        return 1

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            fetch(None)
        direct = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(calls):
            rec.timed(1, fetch, None)
        best = min(best, (time.perf_counter() - started - direct) / calls * 1e6)
    rec.fd = -1
    os.close(write_fd)
    return best


GRAD_COST = r"""
import json, time, torch
from torch import nn
from dldoctor.profilers.child.torch_steps import GRADIENTS_EVERY, _grad_stats
torch.manual_seed(0); torch.set_num_threads(1)
model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                      nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 512), torch.randint(0, 10, (16,))
def step():
    opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
def best(call, n):
    times = []
    for _ in range(n):
        t = time.perf_counter(); call(); times.append(time.perf_counter() - t)
    return min(times)
step()
step_s, sample_s = best(step, 50), best(lambda: _grad_stats(opt), 50)
print(json.dumps({"step_ms": step_s * 1e3, "sample_ms": sample_s * 1e3,
                  "every": GRADIENTS_EVERY, "share": sample_s / GRADIENTS_EVERY / step_s}))
"""


def grad_cost() -> dict[str, float]:
    """The gradient-health sample's cost on the workload's model (best of 50 each): one read
    of every gradient, every ``GRADIENTS_EVERY`` optimizer steps, against one training step."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", GRAD_COST], capture_output=True, text=True, check=True, env=env
    ).stdout
    found: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return {k: round(v, 5) for k, v in found.items()}


# Runs a command; prints its exit code, wall time, the peak RSS of its largest process (KiB) and
# the CPU time (user + system) of the whole process tree.
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.returncode, time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime)"
)


def measure(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, float, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=cwd,
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) * 1024, float(out[3])


def overhead(runs: int, steps: int, work: Path, only_dldoctor: bool) -> list[dict[str, object]]:
    py = sys.executable
    script = work / "workload.py"
    script.write_text(WORKLOAD)

    def cmd(name: str, truth: Path) -> list[str]:
        base = [str(script), "--steps", str(steps), "--out", str(work), "--truth", str(truth)]
        if name == "plain":
            return [py, *base]
        if name == "dldoctor profile":
            return [py, "-m", "dldoctor", "profile", "--json", str(work / "dd.json"), *base]
        if name == "torch.profiler (whole loop)":
            return [py, *base, "--mode", "profiler"]
        if name == "torch.profiler (scheduled)":
            return [py, *base, "--mode", "profiler-sched"]
        spy = shutil.which("py-spy", path=str(Path(py).parent)) or "py-spy"
        idle = ["--idle"] if "idle" in name else []
        return [spy, "record", "-r", "100", *idle, "-o", str(work / "spy.svg"), "--", py, *base]

    configs = [
        "plain",
        "dldoctor profile",
        "torch.profiler (whole loop)",
        "torch.profiler (scheduled)",
    ]
    if shutil.which("py-spy", path=str(Path(py).parent)) or shutil.which("py-spy"):
        configs += ["py-spy record -r 100", "py-spy record -r 100 --idle"]
    if only_dldoctor:
        configs = configs[:2]
    rows: dict[str, dict[str, list[float]]] = {
        c: {"wall": [], "cpu": [], "loop": [], "rss": [], "frac": [], "measured": []}
        for c in configs
    }
    for run in range(runs):
        for name in configs:
            truth = work / f"truth-{run}.json"
            code, wall, rss, cpu = measure(cmd(name, truth))
            if code != 0 or not truth.exists():
                print(f"{name}: exit {code}", file=sys.stderr)
                continue
            data = json.loads(truth.read_text())
            row = rows[name]
            row["wall"].append(wall)
            row["cpu"].append(cpu)
            row["loop"].append(data["loop_s"])
            row["rss"].append(rss)
            row["frac"].append(data["fraction"])
            if name == "dldoctor profile":
                report = json.loads((work / "dd.json").read_text())
                row["measured"].append(report["profile"]["data_wait"]["fraction"])
                sampling = report["profile"]["sampling"]
                row.setdefault("dd_rss", []).append(sampling["dldoctor_peak_rss_bytes"])
                row.setdefault("dd_cpu", []).append(sampling["dldoctor_cpu_s"])
            truth.unlink()
            print(f"run {run + 1}/{runs} {name}: {wall:.2f} s", file=sys.stderr)
    plain = statistics.median(rows["plain"]["wall"])
    plain_min = min(rows["plain"]["wall"])
    plain_loop = statistics.median(rows["plain"]["loop"])
    plain_cpu = statistics.median(rows["plain"]["cpu"])
    table = []
    for name, row in rows.items():
        if not row["wall"]:
            continue
        entry: dict[str, object] = {
            "tool": name,
            "wall_s": [round(w, 2) for w in row["wall"]],
            "wall_ratio": round(statistics.median(row["wall"]) / plain, 3),
            "best_wall_ratio": round(min(row["wall"]) / plain_min, 3),
            # Each run against the plain run just before it: robust to load that drifts.
            "paired_wall_ratio": round(
                statistics.median(w / p for w, p in zip(row["wall"], rows["plain"]["wall"])), 3
            ),
            "cpu_ratio": round(statistics.median(row["cpu"]) / plain_cpu, 3),
            "loop_ratio": round(statistics.median(row["loop"]) / plain_loop, 3),
            "peak_rss_mib": round(statistics.median(row["rss"]) / 2**20),
            "true_fraction": round(statistics.median(row["frac"]), 3),
        }
        if row["measured"]:
            entry["measured_fraction"] = [round(m, 4) for m in row["measured"]]
            entry["truth_in_same_runs"] = [round(f, 4) for f in row["frac"]]
            entry["dldoctor_own_peak_rss_mib"] = round(statistics.median(row["dd_rss"]) / 2**20)
            entry["dldoctor_own_cpu_s"] = statistics.median(row["dd_cpu"])
        table.append(entry)
    return table


ACCURACY = [
    ("PyTorch, 0 workers, 1.5 ms/item", "train_torch.py", ["--items", "1600", "--sleep-ms", "1.5"]),
    ("PyTorch, 0 workers, no stall", "train_torch.py", ["--items", "1600", "--sleep-ms", "0"]),
    (
        "PyTorch, 2 workers, 3 ms/item",
        "train_torch.py",
        ["--items", "1600", "--workers", "2", "--sleep-ms", "3"],
    ),
    (
        "PyTorch, 4 workers, 6 ms/item",
        "train_torch.py",
        ["--items", "1600", "--workers", "4", "--sleep-ms", "6"],
    ),
    (
        "PyTorch, 2 workers, 2 epochs",
        "train_torch.py",
        ["--items", "800", "--workers", "2", "--sleep-ms", "3", "--epochs", "2"],
    ),
    ("TensorFlow custom loop, tf.data", "train_tf.py", ["--mode", "loop"]),
    ("Keras fit, tf.data", "train_tf.py", ["--mode", "fit", "--items", "240", "--sleep-ms", "10"]),
    ("PaddlePaddle, 0 workers", "train_paddle.py", []),
]


def accuracy(work: Path) -> list[dict[str, object]]:
    rows = []
    for name, script, args in ACCURACY:
        truth, report = work / "truth.json", work / "acc.json"
        cmd = [
            sys.executable,
            "-m",
            "dldoctor",
            "profile",
            "--json",
            str(report),
            str(SCRIPTS / script),
            *args,
            "--truth",
            str(truth),
        ]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        told = json.loads(truth.read_text())
        true = told["fraction"]
        profile = json.loads(report.read_text())["profile"]
        # Scripts whose truth leaves their first step out (it traces or builds) are compared
        # with the profile's figure that does too.
        measured = profile["data_wait"]["steady_fraction" if told.get("steady") else "fraction"]
        rows.append(
            {
                "case": name,
                "true": round(true, 4),
                "measured": measured,
                "error_points": round((measured - true) * 100, 2),
                "verdict": profile["verdict"]["class"],
            }
        )
        print(f"{name}: true {true:.4f} measured {measured}", file=sys.stderr)
    return rows


STAMPED = (
    "import time\nSTART = time.time()\nimport sys\ntime.sleep(1.0)\n"
    "open(sys.argv[1], 'w').write(f'{START} {time.time()}')\n"
)
# The same stamps with no sleep between: a script that ends at once (a typo's traceback, an
# import check), where nothing dldoctor does while a script runs can hide.
AT_ONCE = STAMPED.replace("time.sleep(1.0)\n", "")


def fixed_phases(
    runs: int, work: Path, trees: dict[str, Path], env: Any, source: str = STAMPED
) -> dict[str, object]:
    """Where the fixed cost is, on a script that records when its first line ran and when it
    ended, and sleeps 1 s between (dldoctor's work that overlaps a running script hides
    there, as it does in a real run): before it (dldoctor's start-up, the child's bootstrap)
    and after it (the tail: noticing the exit, draining events, the analysis, the report).
    Best and median of ``runs``, minus a plain run's same phases: the best is the least
    disturbed run on a shared machine, the median also counts waits that only sometimes land
    (a polling period)."""
    script = work / "stamped.py"
    script.write_text(source)
    stamps = work / "stamps"
    seen: dict[str, list[list[float]]] = {}
    for run in range(runs):
        # The trees' order alternates: the one run right after the plain run is not favoured.
        order = list(trees) if run % 2 == 0 else list(reversed(trees))
        for tree in (None, *order):
            argv = [sys.executable, str(script), str(stamps)]
            if tree is not None:
                argv[1:1] = ["-m", "dldoctor", "profile", "--json", str(work / "p.json")]
            launched = time.time()
            # In the work directory: `python -m dldoctor` puts the cwd first on sys.path, so
            # run from a checkout it would import that checkout's dldoctor, whatever the tree.
            proc = subprocess.Popen(
                argv, env=env(tree), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _, status, usage = os.wait4(proc.pid, 0)  # its CPU time, its children's included
            ended = time.time()
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise RuntimeError(f"{argv} exited {proc.returncode}")
            first, last = (float(x) for x in stamps.read_text().split())
            cpu = usage.ru_utime + usage.ru_stime
            seen.setdefault(tree or "plain", []).append([first - launched, ended - last, cpu])

    def stat(key: str, index: int, how: Any) -> float:
        return float(how([phases[index] for phases in seen[key]]))

    return {
        tree: {
            f"{where}_{name}_s": round(stat(tree, i, how) - stat("plain", i, how), 3)
            for i, where in enumerate(("before_script", "after_script", "cpu"))
            for name, how in (("best", min), ("median", statistics.median))
        }
        for tree in trees
    }


def startup(
    runs: int,
    work: Path,
    against: Path | None = None,
    quick: bool = False,
    short: int = 20,
    long: int = 200,
) -> dict[str, object]:
    """dldoctor's fixed cost: its overhead on a script importing nothing, and the intercept of
    its overhead over a short and a long run of the workload (overhead = fixed + per_step x
    steps), for this tree and optionally another (``against``: e.g. the main branch's
    checkout), interleaved so that the machine's drift hits every command alike.

    Each dldoctor tree runs with its bytecode cached (``PYTHONPYCACHEPREFIX``), as an installed
    package has it: compiling dldoctor's sources at every run is not a cost users pay."""
    py = sys.executable
    script = work / "workload.py"
    script.write_text(WORKLOAD)
    trivial = work / "trivial.py"
    trivial.write_text("print('ok')\n")
    trees = {"this": ROOT, **({"against": against} if against else {})}
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def env(tree: str | None) -> dict[str, str]:
        if tree is None:
            return base_env
        return {
            **base_env,
            "PYTHONPATH": str(trees[tree]),
            "PYTHONPYCACHEPREFIX": str(work / f"pyc-{tree}"),
        }

    def cmd(tree: str | None, *argv: str) -> list[str]:
        if tree is None:
            return [py, *argv]
        return [py, "-m", "dldoctor", "profile", "--json", str(work / "s.json"), *argv]

    def workload(steps: int) -> list[str]:
        return [str(script), "--steps", str(steps), "--out", str(work), "--truth", str(work / "t")]

    for tree in trees:  # compile each tree's bytecode once, untimed
        measure(cmd(tree, str(trivial)), env(tree), work)
    loads = [round(os.getloadavg()[0], 2)]
    phases = fixed_phases(max(runs, 10), work, trees, env)
    at_once = fixed_phases(max(runs, 10), work, trees, env, AT_ONCE)
    walls: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    loads.append(round(os.getloadavg()[0], 2))
    for _ in range(0 if quick else runs):
        for name, argv in (
            ("trivial", [str(trivial)]),
            (f"workload {short} steps", workload(short)),
            (f"workload {long} steps", workload(long)),
        ):
            for tree in (None, *trees):
                key = f"{name} ({tree or 'plain'})"
                _, wall, _, cpu_s = measure(cmd(tree, *argv), env(tree), work)
                walls.setdefault(key, []).append(round(wall, 3))
                cpu.setdefault(key, []).append(round(cpu_s, 3))
        loads.append(round(os.getloadavg()[0], 2))
    found: dict[str, object] = {
        "load_average_1min": loads,
        "fixed_phases": phases,
        "fixed_phases_at_once": at_once,
    }
    if quick:
        return found
    found.update(walls_s=walls, cpu_s=cpu)
    med = {k: statistics.median(v) for k, v in walls.items()}
    plain_step = (
        med[f"workload {long} steps (plain)"] - med[f"workload {short} steps (plain)"]
    ) / (long - short)
    for tree in trees:

        def delta(name: str, tree: str = tree) -> float:
            return med[f"{name} ({tree})"] - med[f"{name} (plain)"]

        d_short, d_long = delta(f"workload {short} steps"), delta(f"workload {long} steps")
        per_step = (d_long - d_short) / (long - short)
        found[tree] = {
            "tree": str(trees[tree]),
            "trivial_overhead_median_s": round(delta("trivial"), 3),
            "trivial_overhead_best_s": round(
                min(walls[f"trivial ({tree})"]) - min(walls["trivial (plain)"]), 3
            ),
            "trivial_cpu_overhead_median_s": round(
                statistics.median(cpu[f"trivial ({tree})"])
                - statistics.median(cpu["trivial (plain)"]),
                3,
            ),
            "fixed_cost_intercept_s": round(d_short - per_step * short, 3),
            "per_step_overhead_ms": round(per_step * 1e3, 3),
            "per_step_overhead_share": round(per_step / plain_step, 4) if plain_step > 0 else None,
        }
    return found


SAMPLER_COST = """
import json, sys, threading, time
import torch
from dldoctor.profilers.child.frames import FrameSampler
torch.set_num_threads(1)
class Rec:  # what the sampler reads of the recorder: the main thread and its timed phase
    def __init__(self):
        self.main_ident, self.activity, self.busy = threading.get_ident(), None, set()
rec = Rec()
model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 256), torch.randint(0, 10, (16,))
def step():
    rec.activity = "forward"; loss = torch.nn.functional.cross_entropy(model(x), y)
    rec.activity = "backward"; loss.backward()
    rec.activity = "optimizer"; opt.step(); opt.zero_grad(); rec.activity = None
    time.sleep(0.01)  # the device's time, in the loop body
for _ in range(20):
    step()
sampler = FrameSampler.start(rec)
clock = time.pthread_getcpuclockid(sampler._thread.ident)
cpu0, t0, steps = time.clock_gettime(clock), time.perf_counter(), 0
while time.perf_counter() - t0 < float(sys.argv[1]):
    step(); steps += 1
cpu, wall = time.clock_gettime(clock) - cpu0, time.perf_counter() - t0
sampler.stop()
taken = getattr(sampler, "taken", sampler.samples)
print(json.dumps({"steps": steps, "step_ms": wall / steps * 1e3, "samples": taken,
                  "us_per_sample": cpu / taken * 1e6, "us_per_step": cpu / steps * 1e6,
                  "share_of_step": cpu / wall}))
"""


def sampler_cost(rounds: int, trees: dict[str, Path], seconds: float = 10.0) -> dict[str, Any]:
    """The main-thread sampler's own CPU (its thread's clock), in a torch loop of ~12 ms steps
    with the loop body a 10 ms sleep (where it samples), over ``seconds``: per sample, per
    step, and as a share of the step; the trees alternate round by round."""
    seen: dict[str, list[dict[str, float]]] = {}
    for run in range(rounds):
        for tree in list(trees) if run % 2 == 0 else list(reversed(trees)):
            env = {**os.environ, "PYTHONPATH": str(trees[tree])}
            out = subprocess.run(
                [sys.executable, "-c", SAMPLER_COST, str(seconds)],
                capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=True,
            )  # fmt: skip
            seen.setdefault(tree, []).append(json.loads(out.stdout))
    return {
        tree: {
            key: round(statistics.median(r[key] for r in runs), 5)
            for key in ("step_ms", "samples", "us_per_sample", "us_per_step", "share_of_step")
        }
        | {"runs": runs}
        for tree, runs in seen.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600, help="training steps of the workload")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-hook-cost", action="store_true")
    parser.add_argument(
        "--only-dldoctor", action="store_true", help="overhead: plain and dldoctor profile only"
    )
    parser.add_argument(
        "--startup", action="store_true", help="only the fixed cost: short vs long runs"
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="--startup, --per-step: also time this dldoctor tree (e.g. main's)",
    )
    parser.add_argument(
        "--phases-only", action="store_true", help="--startup: only where the fixed cost is"
    )
    parser.add_argument(
        "--per-step",
        action="store_true",
        help="only the per-step overhead: torch, TensorFlow and Paddle, short vs long runs",
    )
    parser.add_argument("--framework", default="", help="--per-step: only this one")
    parser.add_argument(
        "--sampler-cost",
        action="store_true",
        help="only the main-thread sampler's own CPU in a torch loop (with --against)",
    )
    args = parser.parse_args()
    if args.sampler_cost:
        trees = {"this": ROOT, **({"against": args.against} if args.against else {})}
        found = {"load_average_1min": [round(os.getloadavg()[0], 2)]}
        found.update(sampler_cost(max(args.runs, 2), trees))
        found["load_average_1min"].append(round(os.getloadavg()[0], 2))
        print(json.dumps(found, indent=2))
        return
    if args.per_step:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from profile_steps import per_step

        with tempfile.TemporaryDirectory() as tmp:
            found = per_step(args.runs, Path(tmp), ROOT, only=args.framework, against=args.against)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "profile-steps.json").write_text(json.dumps(found, indent=2) + "\n")
        print(json.dumps(found, indent=2))
        return
    if args.startup:
        with tempfile.TemporaryDirectory() as tmp:
            found = startup(args.runs, Path(tmp), args.against, args.phases_only)
        OUT.mkdir(parents=True, exist_ok=True)
        found["gradient_sample"] = grad_cost()
        (OUT / "profile-startup.json").write_text(json.dumps(found, indent=2) + "\n")
        print(json.dumps(found, indent=2))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_overhead:
            results["overhead"] = overhead(args.runs, args.steps, work, args.only_dldoctor)
        if not args.skip_accuracy:
            results["accuracy"] = accuracy(work)
        if not args.skip_hook_cost:
            results["hook_cost"] = hook_cost(max(args.runs, 5), work)
    name = "profile.json" if not (args.skip_overhead or args.skip_accuracy) else "profile-part.json"
    (OUT / name).write_text(json.dumps(results, indent=2) + "\n")
    if "overhead" in results:
        print(
            "| Tool | Wall s (runs) | Median wall ratio | Paired ratio | Best-run ratio | "
            "Loop ratio | CPU time ratio | Peak RSS MiB | True data wait |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results["overhead"]:  # type: ignore[union-attr]
            print(
                f"| {r['tool']} | {', '.join(map(str, r['wall_s']))} | **{r['wall_ratio']}** | "
                f"{r['paired_wall_ratio']} | {r['best_wall_ratio']} | {r['loop_ratio']} | "
                f"{r['cpu_ratio']} | "
                f"{r['peak_rss_mib']} | {r['true_fraction']} |"
            )
    if "hook_cost" in results:
        print(f"\nHook cost: {json.dumps(results['hook_cost'])}")
    if "accuracy" in results:
        print("\n| Case | True | Measured | Error (points) | Verdict |")
        print("|---|---|---|---|---|")
        for r in results["accuracy"]:  # type: ignore[union-attr]
            print(
                f"| {r['case']} | {r['true']} | {r['measured']} | {r['error_points']:+} | {r['verdict']} |"
            )


if __name__ == "__main__":
    main()
