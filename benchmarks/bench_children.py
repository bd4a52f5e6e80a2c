"""Where the CPU of `dldoctor check` goes: the dldoctor process, and each probe child against
the bare import of its framework.

Each round runs `dldoctor check` in a fresh interpreter whose probe children are reaped with
``os.wait4`` (the driver below wraps ``os.waitpid`` and the start of each child), so every
child's own CPU seconds, start and end are known; then, one after another, a child-like bare
import of each framework (``python -c "import X; os._exit(0)"``: no interpreter teardown, as the
probe harness skips it too). Rounds alternate the order; medians. What a child uses beyond its
import is its probe: the runtime facts, the smoke tests, the harness.
With ``--phases`` the children's harness is patched (in the benchmark only) to report each
phase's CPU and wall seconds: the import, the runtime facts, each smoke test.
Usage: python benchmarks/bench_children.py [--runs 3] [--phases]   (Linux; the frameworks installed)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PY = sys.executable
# What each probe child imports first (Keras runs in TensorFlow's child: its import is TF's).
IMPORTS = {
    "tensorflow+keras": "import tensorflow, keras",
    "torch": "import torch",
    "jax": "import jax",
    "paddle": "import paddle",
    "onnxruntime": "import onnxruntime",
}

DRIVER = r"""
import json, os, resource, runpy, subprocess, sys, time
t0 = time.perf_counter()
children, names, real = {}, {}, os.waitpid

def waitpid(pid, flags):
    got, status, usage = os.wait4(pid, flags)
    if got:
        children[got] = (usage.ru_utime + usage.ru_stime, time.perf_counter() - t0)
    return got, status

os.waitpid = waitpid  # Popen.wait; Popen.poll keeps its own reference:
subprocess.Popen._internal_poll.__defaults__ = tuple(
    waitpid if d is real else d for d in subprocess.Popen._internal_poll.__defaults__
)
init = subprocess.Popen.__init__

def started(self, args, *rest, **kw):
    init(self, args, *rest, **kw)
    try:
        jobs = json.loads(args[-1])["jobs"]
        names[self.pid] = ("+".join(j["framework"] for j in jobs), time.perf_counter() - t0)
    except Exception:
        names[self.pid] = (os.path.basename(str(args[0])), time.perf_counter() - t0)

subprocess.Popen.__init__ = started
phases = []
if os.environ.get("BENCH_PHASES"):  # each phase's CPU seconds, reported by a patched harness
    import dldoctor.probes.probe as probe
    real_run = probe.run_child

    def run_child(argv, args, *rest, **kw):
        end = 'if __name__ == "__main__":\n    main()'
        src = argv[-1].replace(end, PATCH + end)
        heard = kw.get("on_message")

        def on_message(m):
            if m.get("type") == "bench_cpu":
                phases.append([m["framework"], m["phase"], m["cpu"], m["wall"]])
            if heard:
                heard(m)

        return real_run([*argv[:-1], src], args, *rest, **{**kw, "on_message": on_message})

    probe.run_child = run_child
sys.argv = ["dldoctor", "check", "--format", "json"]
sys.stdout = open(os.devnull, "w")
try:
    runpy.run_module("dldoctor", run_name="__main__")
except SystemExit:
    pass
own = resource.getrusage(resource.RUSAGE_SELF)
rows = {names.get(p, ("?", 0))[0]: [cpu, names.get(p, ("?", 0))[1], end] for p, (cpu, end) in children.items()}
print(json.dumps({"wall_s": time.perf_counter() - t0, "own_cpu_s": own.ru_utime + own.ru_stime, "children": rows, "phases": phases}), file=sys.stderr)
"""
# Appended to the harness's source, before its main(): every Phase reports its CPU and wall time.
PATCH = r"""
_enter, _exit = Phase.__enter__, Phase.__exit__
def _timed_enter(self):
    self.bench = (time.process_time(), time.perf_counter())
    return _enter(self)
def _timed_exit(self, *exc):
    _exit(self, *exc)
    cpu, wall = time.process_time() - self.bench[0], time.perf_counter() - self.bench[1]
    self.ctx.send("bench_cpu", phase=self.name, cpu=cpu, wall=wall)
Phase.__enter__, Phase.__exit__ = _timed_enter, _timed_exit
"""


def cpu_of(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def check_round(phases: bool) -> dict[str, object]:
    env = {**ENV, "BENCH_PHASES": "1"} if phases else ENV
    code = f"PATCH = {PATCH!r}\n{DRIVER}"
    run = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    return dict(json.loads(run.stderr.strip().splitlines()[-1]))


def print_phases(checks: list[dict[str, object]]) -> None:
    """Each child's phases: median CPU and wall seconds over the rounds."""
    seen: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for check in checks:
        for framework, phase, cpu, wall in check["phases"]:  # type: ignore[attr-defined]
            seen.setdefault((framework, phase), []).append((cpu, wall))
    print(f"{'framework':<14} {'phase':<34} {'CPU s':>7} {'wall s':>7}")
    for (framework, phase), rows in seen.items():
        cpu = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        print(f"{framework:<14} {phase:<34} {cpu:>7.3f} {wall:>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="CPU of each phase in each child")
    args = parser.parse_args()
    checks: list[dict[str, object]] = []
    imports: dict[str, list[float]] = {name: [] for name in IMPORTS}
    loads = [os.getloadavg()[0]]
    for round_ in range(args.runs):
        steps = ["check", *IMPORTS]
        for step in steps if round_ % 2 == 0 else reversed(steps):
            if step == "check":
                checks.append(check_round(args.phases))
            else:
                code = f"import os; {IMPORTS[step]}; os._exit(0)"
                imports[step].append(cpu_of([PY, "-c", code]))
        loads.append(os.getloadavg()[0])
    print(f"load average (1 min) per round: {', '.join(f'{v:.1f}' for v in loads)}")
    wall = statistics.median(float(c["wall_s"]) for c in checks)  # type: ignore[arg-type]
    own = statistics.median(float(c["own_cpu_s"]) for c in checks)  # type: ignore[arg-type]
    print(f"dldoctor check: median wall {wall:.2f} s; the dldoctor process {own:.2f} CPU s")
    print(
        f"{'child':<20} {'CPU s':>7} {'bare import':>12} {'probe':>7} {'start s':>8} {'end s':>7}"
    )
    names = sorted({n for c in checks for n in c["children"]})  # type: ignore[attr-defined]
    total = own
    for name in names:
        rows = [c["children"][name] for c in checks if name in c["children"]]  # type: ignore[index]
        cpu, start, end = (statistics.median(r[i] for r in rows) for i in range(3))
        total += cpu
        bare = statistics.median(imports[name]) if imports.get(name) else None
        extra = f"{cpu - bare:>7.2f}" if bare is not None else f"{'':>7}"
        shown = f"{bare:>12.2f}" if bare is not None else f"{'':>12}"
        print(f"{name:<20} {cpu:>7.2f} {shown} {extra} {start:>8.2f} {end:>7.2f}")
    print(
        f"{'all (medians summed)':<20} {total:>7.2f}  -> {total / 2:.2f} s of wall time on 2 cores"
    )
    if args.phases:
        print_phases(checks)


if __name__ == "__main__":
    main()
