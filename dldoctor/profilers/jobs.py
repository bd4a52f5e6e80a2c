"""What each process's steps say: which steps count, how each splits, training health, and
the ranks of a job of several (the slowest one named)."""

from __future__ import annotations

import math
from typing import Any

from dldoctor.profilers import collector as c
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.collector import ProcessRecord, Steps

JSON = dict[str, Any]


def choose_steps(proc: ProcessRecord | None) -> tuple[Steps, str]:
    if proc is None:
        return Steps(), "none"
    if proc.marks.count:
        return proc.marks, "keras" if proc.mark_sources == {"k"} else "step()"
    if proc.data.count:
        return proc.data, "batches"
    if proc.evaluation.count:  # an evaluation-only script: its batches are its steps
        return proc.evaluation, "evaluation batches"
    return Steps(), "none"


_PHASE_NAMES = {"c": "copy", "f": "forward", "b": "backward", "o": "optimizer", "g": "compiled"}
# The phases each patched module times (bootstrap's PATCHES): a phase no patch times is left
# out of the split, never shown as 0 %.
_SEAMS = {
    "torch.nn.modules.module": ("forward",),
    "torch._tensor": ("copy", "backward"),
    "torch.optim.optimizer": ("optimizer",),
    "paddle.nn.layer.layers": ("forward",),
    "paddle.base": ("backward",),
    "paddle.optimizer": ("optimizer",),
    "keras.src.layers.layer": ("forward",),
    "tensorflow.python.eager.backprop": ("backward",),
    "keras.src.optimizers.base_optimizer": ("optimizer",),
}
COMPILED_NOTE = (
    "the step is a compiled tf.function call: its forward, backward and optimizer step run "
    "inside one graph and cannot be separated from Python"
)


def seams(frameworks: list[JSON]) -> set[str]:
    """The phases timed in this run: from every process's patches (forked ranks inherit
    theirs from the process that announced them)."""
    found: set[str] = set()
    for patch in frameworks:
        if patch.get("patched"):
            found.update(_SEAMS.get(str(patch.get("module")), ()))
    return found


def breakdown(steps: Steps, steady: bool, timed: set[str] | None = None) -> JSON:
    """Each step split: data wait, copy to the device, forward, backward, optimizer step (the
    ``timed`` ones; all by default), a compiled tf.function call, and the rest (the loop body's
    own Python work), as fractions of step time. Over the steps the verdict uses (without each
    pass's first where enough remain)."""
    time_s = steps.time_s - (steps.first_time_s if steady else 0.0)
    wait_s = steps.wait_s - (steps.first_wait_s if steady else 0.0)
    phases = {
        name: steps.phase_s.get(kind, 0.0) - (steps.first_phase_s.get(kind, 0.0) if steady else 0)
        for kind, name in _PHASE_NAMES.items()
    }
    measured = any(v > 0 for v in phases.values()) and time_s > 0
    if not measured:
        return {"measured": False, "fractions": None}
    compiled = phases["compiled"] > 0
    for name, seconds in list(phases.items()):
        if seconds > 0:
            continue
        # Inside a compiled step the model's phases are not seen, so not 0 %; nor are phases
        # no patch times here (paddle's copy to the device happens inside its DataLoader).
        if name == "compiled" or compiled or (timed is not None and name not in timed):
            del phases[name]
    parts = {"data_wait": wait_s, **phases}
    parts["loop_body"] = max(time_s - sum(parts.values()), 0.0)
    fractions = {k: round(min(max(v / time_s, 0.0), 1.0), 4) for k, v in parts.items()}
    out: JSON = {"measured": True, "steady": steady, "fractions": fractions}
    if compiled:
        out["not_separable"] = COMPILED_NOTE
    return out


def health(proc: ProcessRecord | None, source: str) -> JSON:
    """Training health: the step whose loss first was NaN or infinite, if one was, and the
    gradient norms sampled (where they exploded or vanished, from which step)."""
    key = "batch_step" if source == "batches" else "marked_step"
    seen = proc.nonfinite if proc is not None else None
    loss = None
    if seen is not None:
        loss = {
            "value": seen["value"],
            "step": seen[key],
            "backward_calls": seen["backward_calls"],
            "read_every": seen.get("read_every"),
        }
    norms = proc.gradients if proc is not None else None
    return {
        "nonfinite_loss": loss,
        "gradients": _gradients(norms.to_dict(), key) if norms else None,
    }


def _gradients(seen: JSON, key: str) -> JSON:
    def sample(s: JSON | None) -> JSON | None:
        if s is None:
            return None
        return {
            "step": s[key],
            "optimizer_step": s["optimizer_step"],
            "l2": _finite(s["l2"]),
            "rms": _finite(s["rms"]),
        }

    named = ("first", "last", "largest", "nonfinite", "exploded", "explosion_onset")
    out: JSON = {"samples": seen["samples"], "float16": seen["float16"]}
    out.update({name: sample(seen[name]) for name in (*named, "vanished_from")})
    return out


def _finite(value: float) -> float | str:
    """A norm for JSON: NaN and infinities as strings (JSON has no such numbers)."""
    return value if math.isfinite(value) else str(value)


def frames(proc: ProcessRecord | None) -> JSON | None:
    """The main-thread sampler's busiest lines (outside the timed phases), as shares of its
    counts (ticks of ``1 / rate_hz``: a sample taken at a lower rate counts for more)."""
    seen = proc.frames if proc is not None else None
    if not isinstance(seen, dict) or not seen.get("loop_samples"):
        return None
    total = int(seen["loop_samples"])

    def rows(key: str) -> list[JSON]:
        out = []
        for row in (seen.get(key) or [])[:5]:
            if isinstance(row, list) and len(row) == 4 and isinstance(row[3], int):
                share = round(row[3] / total, 3)
                out.append(
                    {"file": str(row[0]), "line": row[1], "function": str(row[2]), "share": share}
                )
        return out

    found: JSON = {"samples": int(seen.get("samples", 0)), "loop_samples": total}
    if isinstance(seen.get("taken"), int):  # samples read; the counts are ticks of 1 / rate
        found["taken"] = seen["taken"]
    return {**found, "user": rows("user"), "leaf": rows("leaf")}


def hidden_wait(loaders: list[JSON], source: str) -> str | None:
    """Why the data wait of these steps cannot be measured, if it cannot (else None)."""
    for loader in loaders:
        config = loader["config"]
        if loader["in_main_process"] and config.get("separable") is False and source == "keras":
            n = config.get("steps_per_execution")
            return (
                f"Keras runs {n} steps per call (steps_per_execution={n}) inside one compiled "
                "function: the data wait cannot be separated from the steps in this mode"
            )
    return None


def ranks(col: c.Collector) -> list[JSON]:
    """One row per process that stepped (each rank of a job, or a forked trainer)."""
    workers = {pid for loader in col.loaders.values() for pid in loader.worker_pids}
    rows = []
    for record in col.processes.values():
        steps, source = choose_steps(record)
        if not steps.count or record.pid in workers:
            continue
        hello = record.hello or {}
        rank = (record.rank or {}).get("rank", hello.get("rank"))
        fraction = steps.wait_s / steps.time_s if steps.time_s > 0 else None
        steady_time = steps.time_s - steps.first_time_s
        if steps.count - steps.first_count >= th.MIN_STEPS and steady_time > 0:
            fraction = (steps.wait_s - steps.first_wait_s) / steady_time
        cpu = record.cpu
        rows.append(
            {
                "pid": record.pid,
                "rank": rank if isinstance(rank, int) else None,
                "world_size": (record.rank or {}).get("world_size", hello.get("world_size")),
                "steps": steps.count,
                "source": source,
                "step_mean_s": _round(steps.durations.mean),
                "data_wait_fraction": _round(fraction, 4),
                "data_wait_per_step_s": _round(steps.waits.mean),
                "process_cores": _round(cpu[0] / cpu[1], 3) if cpu[1] else None,
                "main_thread_busy": _round(cpu[2] / cpu[3], 3) if cpu[3] else None,
            }
        )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["pid"]))
    return rows[:64]


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


SYNCHRONISED_SPREAD = 0.10  # ranks whose mean step times are this close step together


def slowest(ranks: list[JSON], main_pid: int | None = None) -> JSON | None:
    """The rank that holds a job of several back, and why; None for a single process.

    Ranks that step in lock-step (DDP's all-reduce every step) share one step time: there the
    one waiting longest for its own data makes every other rank wait for it. Otherwise the
    one whose steps take longest. Processes with a rank (RANK, init_process_group) are the
    job's ranks; without any, forked processes are ranks only when the script's own process
    (``main_pid``) does not train itself (plain multiprocessing): a trainer that forks a
    helper is one process, judged on its own steps.
    """
    rows = [r for r in ranks if r["step_mean_s"] is not None and r["steps"] >= th.MIN_STEPS]
    ranked = [r for r in rows if r["rank"] is not None]
    if len(ranked) >= 2:
        rows = ranked
    elif any(r["pid"] == main_pid for r in rows):
        return None
    if len(rows) < 2:
        return None
    means = [float(r["step_mean_s"]) for r in rows]
    if min(means) > 0 and max(means) / min(means) - 1 < SYNCHRONISED_SPREAD:
        row = max(rows, key=lambda r: r["data_wait_per_step_s"] or 0.0)
        why = "the ranks step together, and it waits longest for its own data"
    else:
        row = max(rows, key=lambda r: float(r["step_mean_s"]))
        why = "its steps take longest"
    return {"pid": row["pid"], "rank": row["rank"], "of": len(rows), "why": why}
