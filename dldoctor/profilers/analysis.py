"""From what was collected to the report's ``profile`` section: fractions, loaders, verdict.

Everything is computed over the training steps' window (first step start to last step end);
samples taken while the script was importing or after it stopped stepping don't dilute it.
"""

from __future__ import annotations

import signal
from typing import Any

from dldoctor.facts.withhold import safe_args, withhold
from dldoctor.profilers import collector as c
from dldoctor.profilers import jobs
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.collector import LoaderRecord, ProcessRecord
from dldoctor.profilers.session import Session

TIMELINE_POINTS = 60  # per series in the report: enough for a sparkline, small in JSON

JSON = dict[str, Any]


def analyse(session: Session) -> JSON:
    col = session.collector
    result = session.result
    with col.lock:
        ranks = jobs.ranks(col)
    proc = col.main_process(result.pid)
    slowest = jobs.slowest(ranks, result.pid)
    if slowest is not None:  # a job of several ranks: judged on the one that holds it back
        proc = col.processes[int(slowest["pid"])]
    steps, source = jobs.choose_steps(proc)
    t0 = steps.first_start if steps.first_start is not None else result.t_start
    t1 = steps.last_end if steps.last_end is not None else result.t_end
    with col.lock:
        window = col.timeline.span(t0, t1)
        cpu = _cpu(col, window, session.cores_available)
        if proc is not None and proc.pid != result.pid and proc.cpu[1]:
            # The steps ran in a rank or a forked process, not in the (idle) launcher.
            cpu["main_process_cores"] = round(proc.cpu[0] / proc.cpu[1], 3)
            thread = proc.cpu[2] / proc.cpu[3] if proc.cpu[3] else None
            cpu["main_thread_busy"] = None if thread is None else round(thread, 3)
            cpu["measured_pid"] = proc.pid
        gpus = _gpus(session, window)
        timeline = _timeline(col, session, proc)
        loaders = [_loader(r, proc) for r in col.loaders.values()]
    fraction = steps.wait_s / steps.time_s if steps.time_s > 0 else None
    hidden = jobs.hidden_wait(loaders, source)
    if hidden is not None:  # no wait was seen because none could be: not 0 %
        fraction = None
    steady_time = steps.time_s - steps.first_time_s
    steady = None
    if steps.count - steps.first_count >= th.MIN_STEPS and steady_time > 0 and hidden is None:
        steady = (steps.wait_s - steps.first_wait_s) / steady_time
    profile: JSON = {
        "target": {
            "kind": "module" if session.target.module else "script",
            "name": session.target.name,
            "args": safe_args(session.target.args),
        },
        "exit": _exit(session, proc),
        "wall_s": round(result.t_end - result.t_start, 3),
        "window": {
            "start_s": round(t0 - result.t_start, 3),
            "end_s": round(t1 - result.t_start, 3),
        },
        "steps": {
            "count": steps.count,
            "source": source,
            "time_s": round(steps.time_s, 6),
            "duration": steps.durations.to_dict(),
            "pid": proc.pid if proc else None,
        },
        "data_wait": {
            "fraction": None if fraction is None else round(fraction, 4),
            "steady_fraction": None if steady is None else round(steady, 4),
            "total_s": round(steps.wait_s, 6),
            "first_steps": {
                "count": steps.first_count,
                "time_s": round(steps.first_time_s, 6),
                "wait_s": round(steps.first_wait_s, 6),
            },
            "per_step": steps.waits.to_dict(),
            "not_separable": hidden,
        },
        "step_breakdown": jobs.breakdown(steps, steady is not None, jobs.seams(col.frameworks)),
        "loop_body_samples": jobs.frames(proc),
        "health": jobs.health(proc, source),
        "loaders": loaders,
        "frameworks": col.frameworks,
        "processes": _processes(col, proc),
        "ranks": ranks,
        "slowest_rank": slowest,
        "cpu": cpu,
        "memory": {k: int(v) for k, v in sorted(col.peaks.items()) if not k.startswith("gpu")},
        "gpu": gpus,
        "timeline": timeline,
        "sampling": {
            "rate_hz": session.options.rate_hz,
            "samples": col.samples,
            "events": col.events,
            "bad_lines": col.bad_lines,
            **session.sampler_info,
        },
        "thresholds": th.as_dict(),
    }
    profile["verdict"] = classify(profile)
    return profile


def _exit(session: Session, proc: ProcessRecord | None) -> JSON:
    result = session.result
    code = result.returncode
    stop = proc.stop if proc else None
    exit_event = proc.exit if proc else None
    out: JSON = {"returncode": code, "signal": None, "stopped_by": None, "exception": None}
    if code is not None and code < 0:
        out["signal"] = _signal_name(-code)
    if stop:
        out["stopped_by"] = stop.get("reason")
    elif result.enforced:
        out["stopped_by"] = "duration"
    if exit_event and exit_event.get("kind") == "exception":
        # Withheld before it is cut: half a token no longer has the shape that gives it away.
        text = withhold(f"{exit_event.get('type')}: {exit_event.get('message', '')}")
        out["exception"] = text[:500]
    if exit_event and exit_event.get("kind") == "not_started":  # python's own line, e.g.
        out["not_started"] = withhold(str(exit_event.get("message", "")))[:500]  # no module x
    if result.forwarded:
        out["signals_received"] = list(result.forwarded)
    if result.enforced:
        out["signals_sent"] = list(result.enforced)
    if result.error:
        out["error"] = result.error
    if out["stopped_by"] and not result.enforced:
        status = "stopped"
    elif out["signal"] is not None:
        status = "killed" if out["signal"] not in ("SIGINT",) else "interrupted"
    elif code == 0:
        status = "completed"
    else:
        status = "failed"
    out["status"] = status
    return out


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _mean(col: c.Collector, window: range, total: int, count: int) -> float | None:
    n = col.timeline.total(count, window)
    return col.timeline.total(total, window) / n if n else None


def _cpu(col: c.Collector, window: range, cores: float) -> JSON:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    tree = _mean(col, window, c.TREE_CORES, c.CPU_N)
    return {
        "cores_available": cores,
        "main_process_cores": r(_mean(col, window, c.MAIN_CORES, c.CPU_N)),
        "main_thread_busy": r(_mean(col, window, c.MAIN_THREAD, c.MAIN_THREAD_N)),
        "worker_busy": r(_mean(col, window, c.WORKER_CORES, c.WORKERS)),
        "workers": r(_mean(col, window, c.WORKERS, c.CPU_N)),
        "tree_cores": r(tree),
        "tree_share_of_cores": r(tree / cores if tree is not None and cores else None),
    }


def _gpus(session: Session, window: range) -> JSON:
    col = session.collector
    if not session.devices:
        return {"measured": False, "reason": session.gpu_reason, "devices": []}
    devices = []
    busy_of: dict[int, float] = {}  # unrounded: the mean over devices is rounded once
    for d in session.devices:
        base = c.GPU_BASE + c.GPU_FIELDS * d.index
        util = _mean(col, window, base, base + 1)
        if util is not None:
            busy_of[d.index] = util / 100
        power = _mean(col, window, base + 2, base + 3)
        sm = col.gpu_process_util.get(d.index)
        devices.append(
            {
                "index": d.index,
                "name": d.name,
                "uuid": d.uuid,
                "used_by_script": d.index in col.gpu_devices_used or None,
                "busy_fraction": None if util is None else round(util / 100, 4),
                "power_mean_w": None if power is None else round(power, 1),
                "memory_total_bytes": d.memory_total_bytes,
                "memory_used_peak_bytes": _int(col.peaks.get(f"gpu{d.index}_used_bytes")),
                "process_memory_peak_bytes": _int(col.gpu_process_memory.get(d.index)),
                "process_sm_percent_mean": round(sm[0] / sm[1], 1) if sm and sm[1] else None,
            }
        )
    used = [d for d in devices if d["used_by_script"]]
    attribution = "per-process" if used else "device-wide"
    fractions = [busy_of[int(d["index"])] for d in (used or devices) if d["index"] in busy_of]
    busy = sum(fractions) / len(fractions) if fractions else None
    return {
        "measured": busy is not None,
        "reason": None if busy is not None else "no utilisation sample during the steps",
        "attribution": attribution,
        "busy_fraction": None if busy is None else round(busy, 4),
        "idle_fraction": None if busy is None else round(1 - busy, 4),
        "devices": devices,
    }


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _loader(record: LoaderRecord, main: ProcessRecord | None) -> JSON:
    info = record.info
    out: JSON = {
        "id": info.get("id"),
        "pid": record.pid,
        "framework": info.get("framework"),
        "framework_version": info.get("framework_version"),
        "kind": info.get("kind"),
        "site": info.get("site"),
        "config": info.get("config") or {},
        "dataset": info.get("dataset"),
        "batches": record.waits.count,
        "background_batches": record.background_batches,
        "evaluation_batches": record.evaluation_batches,
        "phase": "evaluation" if 2 * record.evaluation_batches > record.waits.count else "training",
        "iterator_start": record.iterator_waits.to_dict(),
        "batch_making": {
            **record.made.to_dict(),
            "collate_s": round(record.collate_s, 6),
        },
        "passes_completed": record.epochs,
        "wait": record.waits.to_dict(),
        "first_batch_wait": record.first_waits.to_dict(),
        "worker_pids": record.worker_pids[:64],
        "worker_starts": record.worker_sets,
        "in_main_process": main is not None and record.pid == main.pid,
    }
    if "pipeline" in info:
        out["pipeline"] = info["pipeline"]
    return out


def _processes(col: c.Collector, main: ProcessRecord | None) -> list[JSON]:
    return [
        {
            "pid": p.pid,
            "main": main is not None and p.pid == main.pid,
            "batch_steps": p.data.count,
            "marked_steps": p.marks.count,
        }
        for p in col.processes.values()
    ]


def _timeline(col: c.Collector, session: Session, proc: ProcessRecord | None) -> JSON:
    """Series resampled to at most ``TIMELINE_POINTS`` points over the whole run. Data wait
    and main CPU are those of the process the headline judges (``proc``: in a job of several
    ranks, the slowest), never a sum over ranks; GPU busy is per device, averaged."""
    tl = col.timeline
    n = len(tl.buckets)
    group = max(1, -(-n // TIMELINE_POINTS))
    series: dict[str, list[float | None]] = {"data_wait": [], "gpu_busy": [], "main_cores": []}
    used = col.gpu_devices_used or {d.index for d in session.devices}
    own = proc.timeline if proc is not None else None
    rank_cpu = own is not None and proc is not None and proc.pid != session.result.pid
    for start in range(0, n, group):
        idx = range(start, min(start + group, n))
        width = tl.width * len(idx)
        t0, t1 = start * tl.width, (start + len(idx)) * tl.width
        wait = own.over(c.PROC_WAIT, t0, t1) if own is not None else 0.0
        series["data_wait"].append(round(min(wait / width, 1.0), 3))
        utils = []
        for d in used:
            base = c.GPU_BASE + c.GPU_FIELDS * d
            count = tl.total(base + 1, idx)
            if count:
                utils.append(tl.total(base, idx) / count / 100)
        series["gpu_busy"].append(round(sum(utils) / len(utils), 3) if utils else None)
        if rank_cpu and own is not None:  # the steps ran in a rank, not the idle launcher
            cores, samples = own.over(c.PROC_CORES, t0, t1), own.over(c.PROC_CPU_N, t0, t1)
        else:
            cores, samples = tl.total(c.MAIN_CORES, idx), tl.total(c.CPU_N, idx)
        series["main_cores"].append(round(cores / samples, 3) if samples > 0 else None)
    return {
        "interval_s": round(tl.width * group, 3),
        "start_s": 0.0,
        "pid": proc.pid if proc is not None else None,
        **series,
    }


def judged_wait(profile: JSON) -> float | None:
    """The data-wait fraction a verdict uses: without each pass's first step where enough steps
    remain (start-up is reported apart), else over all steps."""
    wait = profile["data_wait"]
    steady = wait.get("steady_fraction")
    return float(steady) if steady is not None else wait["fraction"]


def classify(profile: JSON) -> JSON:
    """The verdict, with the numbers it rests on. Pure: re-judges a report read back later."""
    steps = profile["steps"]["count"]
    fraction = judged_wait(profile)
    busy = profile["gpu"].get("busy_fraction") if profile["gpu"]["measured"] else None
    cpu = profile["cpu"]
    main = cpu.get("main_thread_busy")
    if main is None:
        main = cpu.get("main_process_cores")
    hidden = profile["data_wait"].get("not_separable")
    if hidden and steps >= th.MIN_STEPS:
        return {"class": "unknown", "reason": hidden}
    if steps < th.MIN_STEPS or fraction is None:
        return {"class": "unknown", "reason": f"{steps} training steps seen (need {th.MIN_STEPS})"}
    verdict = _classify(profile, fraction, busy, main)
    slowest = profile.get("slowest_rank")
    if slowest:  # one verdict for the job: that of the rank the others wait for
        rank = slowest["rank"]
        who = f"rank {rank}" if rank is not None else f"pid {slowest['pid']}"
        verdict["reason"] = (
            f"{who}, the slowest of {slowest['of']} ({slowest['why']}): {verdict['reason']}"
        )
    return verdict


def _classify(profile: JSON, fraction: float, busy: float | None, main: float | None) -> JSON:
    if fraction >= th.INPUT_BOUND:
        why = f"the loop waits for data {th.pct(fraction)} of the time"
        if profile["data_wait"].get("steady_fraction") is not None:
            why += ", not counting each pass's first batch"
        return {"class": "input-bound", "reason": f"{why} (≥ {th.pct(th.INPUT_BOUND)})"}
    if busy is not None and busy >= th.GPU_BOUND:
        why = f"the GPU is busy {th.pct(busy)} of the time (≥ {th.pct(th.GPU_BOUND)})"
        return {"class": "gpu-bound", "reason": why}
    if main is not None and main >= th.MAIN_THREAD_BUSY:
        why = f"the main thread is busy on a CPU {th.pct(main)} of the time"
        if busy is not None:
            why += f" while the GPU is busy only {th.pct(busy)}"
        return {"class": "cpu-bound", "reason": why}
    why = f"data wait {th.pct(fraction)}"
    if busy is not None:
        why += f", GPU busy {th.pct(busy)}"
    return {"class": "healthy", "reason": why + ", no saturated resource"}
