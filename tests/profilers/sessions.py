"""Finished profiling sessions built in process: a Collector fed event lines and samples, as the
reader and sampler threads feed it, with no script run (for the analysis' own tests)."""

from __future__ import annotations

import json

from dldoctor.profilers.collector import Collector
from dldoctor.profilers.gpu import Device
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session

PID = 100


def session(
    utils: list[float],
    used: set[int],
    steps: int = 20,
    step_s: float = 0.1,
    events: tuple[str, ...] = (),
    returncode: int | None = 0,
    **result: object,
) -> Session:
    """``steps`` steps of ``step_s`` from t=1 s, each waiting 10 % for its batch; each device
    sampled at its utilisation; ``events`` fed first (loader builds, exits)."""
    col = Collector(origin=0.0, gpus=len(utils))
    for line in events:
        col.feed(line)
    t_end = 1.0 + steps * step_s + 1.0
    for i in range(steps + 1):
        t = 1.0 + i * step_s
        col.feed(f"D {PID} 1 {t:.4f} {t + step_s / 10:.4f} 1")
    for k in range(steps * 4):
        t = 1.0 + (k + 0.5) * step_s / 4
        col.sample_cpu(
            t,
            {
                "main_cores": 0.5,
                "main_thread": 0.5,
                "worker_cores": 1.5,
                "workers": 2.0,
                "tree_cores": 2.0,
            },
        )
        for index, util in enumerate(utils):
            col.sample_gpu(t, index, util, 100.0)
    col.sample_gpu(0.2, 0, 0.0, 0.0)  # before the steps: left out of the window
    for index in used:
        col.gpu_memory(index, 1 << 30, 1 << 29)
        col.gpu_process_sm(index, 40.0)
    devices = [Device(i, None, f"GPU{i}", f"GPU-{i}", 80 << 30) for i in range(len(utils))]
    return Session(
        target=Target("train.py", ("--token", "s3cret")),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, t_end, returncode, **result),  # type: ignore[arg-type]
        devices=devices,
        cores_available=8.0,
    )


def loader_event(loader_id: int = 1, pid: int = PID) -> str:
    info = {
        "id": loader_id,
        "framework": "torch",
        "framework_version": "2.13.0",
        "kind": "DataLoader",
        "site": {"file": "train.py", "line": 42},
        "config": {"num_workers": 2},
        "dataset": "Toy",
        "pipeline": [{"op": "map"}],
    }
    return f"L {pid} {json.dumps(info)}"
