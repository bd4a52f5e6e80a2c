"""A ``profile`` section built by hand, for rules and renderers: only what a test changes differs."""

from __future__ import annotations

import copy
from typing import Any

from dldoctor.profilers import thresholds
from dldoctor.profilers.analysis import classify

_STATS = {"count": 0, "total_s": 0.0, "mean_s": None, "p50_s": None, "p95_s": None, "max_s": None}


def stats(count: int, mean_s: float, p95_s: float | None = None) -> dict[str, Any]:
    return {
        "count": count,
        "total_s": round(count * mean_s, 6),
        "mean_s": mean_s,
        "p50_s": mean_s,
        "p95_s": p95_s or mean_s,
        "max_s": (p95_s or mean_s) * 1.5,
    }


def loader(**config: Any) -> dict[str, Any]:
    settings = {
        "batch_size": 64,
        "num_workers": 2,
        "pin_memory": False,
        "persistent_workers": False,
        "prefetch_factor": 2,
    }
    settings.update(config)
    return {
        "id": 1,
        "pid": 4242,
        "framework": "torch",
        "framework_version": "2.13.0",
        "kind": "DataLoader",
        "site": {"file": "train.py", "line": 42, "function": "main"},
        "config": settings,
        "dataset": "ImageFolder",
        "batches": 1000,
        "background_batches": 0,
        "passes_completed": 1,
        "wait": stats(1000, 0.050, 0.080),
        "first_batch_wait": stats(1, 0.4),
        "worker_pids": [4300, 4301],
        "worker_starts": 1,
        "in_main_process": True,
    }


def make(
    steps: int = 1000,
    step_s: float = 0.070,
    wait_s: float = 0.050,
    cores: float = 16.0,
    gpu_busy: float | None = 0.30,
    main_thread: float = 0.30,
    worker_busy: float | None = 0.97,
    loaders: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Defaults: an input-bound PyTorch run on a 16-core GPU machine, 2 CPU-busy workers."""
    workers = 2.0 if worker_busy is not None else 0.0
    profile: dict[str, Any] = {
        "target": {"kind": "script", "name": "train.py", "args": ["--epochs", "3"]},
        "exit": {
            "returncode": 0,
            "signal": None,
            "stopped_by": None,
            "exception": None,
            "status": "completed",
        },
        "wall_s": round(steps * step_s + 5, 3),
        "window": {"start_s": 5.0, "end_s": round(steps * step_s + 5, 3)},
        "steps": {
            "count": steps,
            "source": "batches",
            "time_s": round(steps * step_s, 6),
            "duration": stats(steps, step_s) if steps else dict(_STATS),
            "pid": 4242,
        },
        "data_wait": {
            "fraction": round(wait_s / step_s, 4) if steps else None,
            "steady_fraction": round(wait_s / step_s, 4) if steps > 20 else None,
            "total_s": round(steps * wait_s, 6),
            "first_steps": {"count": 1, "time_s": step_s, "wait_s": wait_s},
            "per_step": stats(steps, wait_s) if steps else dict(_STATS),
        },
        "loaders": [loader()] if loaders is None else loaders,
        "frameworks": [
            {"pid": 4242, "module": "torch.utils.data.dataloader", "patched": ["DataLoader"]}
        ],
        "processes": [{"pid": 4242, "main": True, "batch_steps": steps, "marked_steps": 0}],
        "cpu": {
            "cores_available": cores,
            "main_process_cores": main_thread + 0.1,
            "main_thread_busy": main_thread,
            "worker_busy": worker_busy,
            "workers": workers,
            "tree_cores": main_thread + workers * (worker_busy or 0),
            "tree_share_of_cores": round((main_thread + workers * (worker_busy or 0)) / cores, 3),
        },
        "memory": {
            "main_rss_bytes": 2 << 30,
            "tree_rss_bytes": 5 << 30,
            "host_used_bytes": 20 << 30,
        },
        "gpu": {
            "measured": gpu_busy is not None,
            "reason": None if gpu_busy is not None else "NVML Shared Library Not Found",
            "attribution": "per-process",
            "busy_fraction": gpu_busy,
            "idle_fraction": None if gpu_busy is None else round(1 - gpu_busy, 4),
            "devices": [],
        },
        "timeline": {
            "interval_s": 2.0,
            "start_s": 0.0,
            "data_wait": [0.0, 0.0, 0.5, 0.7, 0.72, 0.71, 0.7, 0.69],
            "gpu_busy": [0.0, 0.0, 0.3, 0.28, 0.31, 0.3, 0.29, 0.3]
            if gpu_busy is not None
            else [None] * 8,
            "main_cores": [0.9, 1.0, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4],
        },
        "sampling": {"rate_hz": 10.0, "samples": 700, "events": 1010},
        "thresholds": thresholds.as_dict(),
    }
    profile["verdict"] = classify(profile)
    return copy.deepcopy(profile)
