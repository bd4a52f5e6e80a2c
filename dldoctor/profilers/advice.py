"""Concrete fixes for a slow input pipeline: values for this machine, the line to change."""

from __future__ import annotations

import math
from typing import Any

from dldoctor.model import Fix
from dldoctor.profilers import thresholds as th

JSON = dict[str, Any]


def where(loader: JSON) -> str:
    site = loader.get("site") or {}
    if site.get("file"):
        return f"{site['file']}:{site['line']}"
    return "where the loader is built"


def _step_compute_s(profile: JSON) -> float | None:
    """Mean time a step spends not waiting for data, leaving out each pass's first step."""
    steps, wait = profile["steps"], profile["data_wait"]
    first = wait.get("first_steps") or {"count": 0, "time_s": 0.0, "wait_s": 0.0}
    count = steps["count"] - first["count"]
    if count <= 0:
        first, count = {"time_s": 0.0, "wait_s": 0.0}, steps["count"]
    if not count:
        return None
    busy = (steps["time_s"] - first["time_s"]) - (wait["total_s"] - first["wait_s"])
    return max(busy / count, 1e-4)


def _batch_wait_s(loader: JSON) -> float | None:
    """Mean wait for one of the loader's batches, leaving out each pass's first batch."""
    wait, first = loader["wait"], loader["first_batch_wait"]
    if wait["count"] > first["count"]:
        return float((wait["total_s"] - first["total_s"]) / (wait["count"] - first["count"]))
    mean: float | None = wait["mean_s"]
    return mean


def made_s(loader: JSON) -> float | None:
    """Mean time to make one batch where it is made (a worker, or the main process), measured
    around the dataset fetch and collate_fn; None where it was not measured."""
    made = loader.get("batch_making") or {}
    mean = made.get("mean_s")
    return float(mean) if made.get("count") and mean is not None else None


def fixed_cost_s(loader: JSON, profile: JSON) -> float | None:
    """The part of each batch's wait that making batches does not explain, when it is most of
    the wait: a per-batch cost outside the workers that more workers cannot hide. None when
    the wait is what worker throughput predicts, or when making was not measured."""
    workers = int(loader["config"].get("num_workers") or 0)
    made, wait = made_s(loader), _batch_wait_s(loader)
    compute = _step_compute_s(profile)
    if made is None or wait is None or compute is None or wait <= 0:
        return None
    # w workers making a batch in `made` each deliver one every made / w: when that is at
    # least half the loop's period per batch (compute + wait), worker throughput holds the
    # loop back. Workers that could deliver much faster than the loop takes batches leave a
    # wait that is something else. With no worker the main thread makes the batch in its wait.
    delivery = made if workers == 0 else made / workers
    period = wait if workers == 0 else compute + wait
    if delivery >= th.FIXED_COST_SHARE * period:
        return None
    fixed = wait - (made if workers == 0 else max(0.0, delivery - compute))
    return fixed if fixed >= th.FIXED_COST_MIN_S else None


def suggested_workers(loader: JSON, profile: JSON) -> tuple[int | None, str]:
    """How many workers would hide the loading, capped by what this machine can run; and why."""
    workers = int(loader["config"].get("num_workers") or 0)
    compute = _step_compute_s(profile)
    wait = _batch_wait_s(loader)
    if compute is None or wait is None:
        return None, ""
    if fixed_cost_s(loader, profile) is not None:
        return None, ""  # not worker throughput: more workers would change nothing
    # Time one worker needs per batch: measured where batches are made when it was; else with
    # no workers it is the wait itself, and with w workers feeding a waiting loop one batch
    # arrives every (compute + wait), so each takes w times that.
    made = made_s(loader)
    load = made if made is not None else wait if workers == 0 else workers * (compute + wait)
    needed = math.ceil(load / compute - 1e-9) + 1  # one in hand for jitter
    cores = profile["cpu"]["cores_available"]
    cpu_heavy = _loading_is_cpu_work(loader, profile)
    cap = max(1, math.floor(cores) - 1) if cpu_heavy else th.MAX_SUGGESTED_WORKERS
    suggestion = max(min(needed, cap, th.MAX_SUGGESTED_WORKERS), 1)
    kind = "CPU work" if cpu_heavy else "mostly waiting (I/O or sleep), not CPU"
    verb = "to make in a worker (measured)" if made is not None and workers else "to load"
    why = (
        f"a batch takes ~{_duration(load)} {verb} and a step ~{_duration(compute)} to compute, "
        f"so ~{needed} workers keep up; loading is {kind}, and {cores:g} cores are available here"
    )
    return suggestion, why


def _loading_is_cpu_work(loader: JSON, profile: JSON) -> bool:
    cpu = profile["cpu"]
    if loader["config"].get("num_workers"):
        busy = cpu.get("worker_busy")
        return busy is None or busy >= 0.5
    # No workers: the main thread loads. If it stays busy through the waits, loading is CPU.
    fraction = profile["data_wait"]["fraction"] or 0.0
    main = cpu.get("main_thread_busy")
    if main is None or fraction <= 0:
        return True
    return (main - (1 - fraction)) / fraction >= 0.5


def torch_like_fixes(loader: JSON, profile: JSON) -> list[Fix]:
    """PyTorch and Paddle ``DataLoader``: num_workers, pin_memory, persistent_workers; and when
    more workers can't help, cheaper batches."""
    config = loader["config"]
    workers = int(config.get("num_workers") or 0)
    changes = []
    notes = [f"In the DataLoader built at {where(loader)}."]
    suggestion, why = suggested_workers(loader, profile)
    raised = suggestion is not None and suggestion > workers
    if raised:
        changes.append(f"raise num_workers from {workers} to {suggestion}")
        notes.append(f"Estimate: {why}.")
    gpu = profile["gpu"]["measured"]
    if loader.get("framework") == "torch" and gpu and config.get("pin_memory") is False:
        changes.append("set pin_memory=True")
    # Workers re-created every pass; a loader without workers has none to keep.
    restarts = loader.get("worker_starts", 0) >= 2
    if workers > 0 and config.get("persistent_workers") is False and restarts:
        changes.append("set persistent_workers=True")
    if not gpu and loader.get("framework") == "torch" and not config.get("pin_memory"):
        notes.append("On a GPU machine, also set pin_memory=True.")
    fixes = [Fix(summary=_join(changes), notes=" ".join(notes))] if changes else []
    fixed = fixed_cost_s(loader, profile)
    if fixed is not None:
        return [*fixes, _fixed_cost_fix(loader, profile, fixed)]
    collation = _collation_fix(loader)
    if collation is not None:
        fixes.append(collation)
    if not raised:
        cores = profile["cpu"]["cores_available"]
        fixes.append(
            Fix(
                summary="make each batch cheaper to produce: cache decoded or preprocessed "
                "samples, lighten the transforms, or read from faster storage",
                notes=f"In the DataLoader built at {where(loader)}: with {workers} workers on "
                f"{cores:g} cores, more workers would compete for the same CPUs.",
            )
        )
    return fixes


def _fixed_cost_fix(loader: JSON, profile: JSON, fixed: float) -> Fix:
    workers = int(loader["config"].get("num_workers") or 0)
    made = made_s(loader) or 0.0
    if workers:
        where_, more = "in the main process after a worker made it", "more workers would not help"
        how = f"its {workers} workers make a batch in ~{_duration(made)} each, enough to keep up"
    else:
        where_, more = "in the DataLoader around making it", "workers would not remove it"
        how = f"making the batch (dataset and collate_fn) takes ~{_duration(made)}"
    return Fix(
        summary=f"remove the per-batch cost outside making the batches: ~{_duration(fixed)} "
        f"of each batch's wait is spent {where_}",
        notes=f"In the DataLoader built at {where(loader)}: {how}, so {more}. Look at what "
        "runs per batch in the main process: a custom sampler or batch_sampler, moving large "
        "batches from the workers (return tensors, not lists or NumPy objects), pin_memory.",
    )


def _collation_fix(loader: JSON) -> Fix | None:
    made = loader.get("batch_making") or {}
    total, collate = made.get("total_s") or 0.0, made.get("collate_s") or 0.0
    if not total or collate < th.COLLATE_SHARE * total:
        return None
    return Fix(
        summary=f"make collation cheaper: collate_fn takes {th.pct(collate / total)} of the "
        "time to make each batch",
        notes=f"In the DataLoader built at {where(loader)}: return tensors of one shape from "
        "the Dataset (default_collate then only stacks them), or batch in the Dataset "
        "(__getitems__) instead of merging Python objects per batch.",
    )


def tf_fix(loader: JSON, profile: JSON | None = None) -> Fix | None:
    """tf.data: a parallel map first (the fix that measured a gain on a sequential map); a
    prefetch only once the map is parallel, since it can hide no more than a step's compute."""
    config = loader["config"]
    chain = " → ".join(step["op"] for step in loader.get("pipeline", []))
    notes = f"In the tf.data pipeline iterated at {where(loader)} ({chain})."
    if config.get("sequential_map"):
        summary = "pass num_parallel_calls=tf.data.AUTOTUNE to .map()"
        if not config.get("prefetch"):
            compute = _step_compute_s(profile) if profile is not None else None
            wait = _batch_wait_s(loader)
            notes += " Then, if the loop still waits, add .prefetch(tf.data.AUTOTUNE) last: it "
            notes += "overlaps loading with a step's compute and hides no more than that"
            if compute is not None and wait is not None:
                notes += f" (~{_duration(compute)} here against ~{_duration(wait)} waiting)"
            notes += "."
    elif not config.get("prefetch"):
        summary = "add .prefetch(tf.data.AUTOTUNE) as the pipeline's last step"
    else:
        return None
    if config.get("py_function"):
        notes += (
            " Its map calls a tf.py_function, which holds Python's GIL: parallel calls overlap "
            "its waiting (I/O), not its Python CPU work; move that work into TF ops, or "
            "precompute it and .cache() the result."
        )
    return Fix(summary=summary, notes=notes)


def loader_fixes(profile: JSON) -> list[Fix]:
    """Fixes for the main process's loaders, the ones that made the loop wait most first."""
    loaders = [
        ld
        for ld in profile["loaders"]
        if ld["in_main_process"] and ld["wait"]["count"] and ld.get("phase") != "evaluation"
    ]
    loaders.sort(key=lambda ld: -(ld["wait"]["total_s"] or 0))
    fixes = []
    for loader in loaders[:3]:
        if loader["framework"] == "tensorflow":
            fix = tf_fix(loader, profile)
            fixes.extend([fix] if fix is not None else [])
        else:
            fixes.extend(torch_like_fixes(loader, profile))
    return fixes


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _join(changes: list[str]) -> str:
    return changes[0] if len(changes) == 1 else ", ".join(changes[:-1]) + " and " + changes[-1]
