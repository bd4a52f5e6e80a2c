"""The terminal view of a profile: sparklines of data wait and GPU use, the verdict, the fixes."""

from __future__ import annotations

from typing import Any

from dldoctor.profilers.analysis import judged_wait
from dldoctor.profilers.report import ProfileReport
from dldoctor.report.clean import clean
from dldoctor.report.terminal import Out, _finding

_BARS = "▁▂▃▄▅▆▇█"
_VERDICT_STYLE = {
    "input-bound": "yellow",
    "cpu-bound": "yellow",
    "gpu-bound": "green",
    "healthy": "green",
    "unknown": "dim",
}


def sparkline(values: list[float | None], top: float = 1.0) -> str:
    """One character per value, ▁ (0) to █ (``top``); a gap where nothing was measured."""
    chars = []
    for v in values:
        if v is None:
            chars.append(" ")
        else:
            level = min(max(v / top, 0.0), 1.0) if top > 0 else 0.0
            chars.append(_BARS[min(int(level * len(_BARS)), len(_BARS) - 1)])
    return "".join(chars)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1e3:.1f} ms"


def render(report: ProfileReport, out: Out, verbose: bool = False) -> None:
    p = report.profile
    steps, wait, ended = p["steps"], p["data_wait"], p["exit"]
    took = out.style(f"({steps['count']} steps, {p['wall_s']:.1f} s, {_ended(ended)})", "dim")
    target = " ".join(
        ["-m"] * (p["target"]["kind"] == "module") + [p["target"]["name"], *p["target"]["args"]]
    )
    target = clean(target if len(target) <= 80 else target[:79] + "…")
    out.line(f"{out.style('dldoctor profile', 'bold')} — {target} {took}")
    out.line()
    verdict = p["verdict"]
    label = out.style(verdict["class"].upper(), "bold", _VERDICT_STYLE[verdict["class"]])
    out.wrapped(f"{label} — {clean(verdict['reason'])}", 2, "Verdict:", styled=True)
    out.line()
    _timelines(out, p)
    out.line()
    duration = steps["duration"]
    ranks = p.get("ranks") or []
    rank_of = {r["pid"]: r["rank"] for r in ranks} if len(ranks) >= 2 else {}
    if steps["count"]:
        whose = (
            f" of {_who(steps['pid'], rank_of[steps['pid']])}" if steps["pid"] in rank_of else ""
        )
        out.wrapped(
            f"Steps{whose}: {steps['count']} (from {steps['source']}), {_ms(duration['mean_s'])} each "
            f"(p50 {_ms(duration['p50_s'])}, p95 {_ms(duration['p95_s'])}{_first(p)}); data wait "
            f"{_ms(wait['per_step']['mean_s'])} per step (p95 {_ms(wait['per_step']['p95_s'])})",
            2,
        )
    breakdown = p.get("step_breakdown") or {}
    if breakdown.get("measured"):
        names = {"data_wait": "data wait", "loop_body": "loop body"}
        parts = [f"{names.get(k, k)} {_pct(v)}" for k, v in breakdown["fractions"].items()]
        note = f" ({clean(breakdown['not_separable'])})" if breakdown.get("not_separable") else ""
        out.wrapped("Each step: " + ", ".join(parts) + note, 2)
    if rank_of:
        _rank_table(out, ranks, p.get("slowest_rank"))
    for loader in p["loaders"]:
        if loader["batches"]:
            line = _loader_line(loader)
            if loader["pid"] in rank_of:
                line = f"{_who(loader['pid'], rank_of[loader['pid']])}: {line}"
            out.wrapped(line, 2, "•")
    out.wrapped(_cpu_line(p["cpu"], p["loaders"]), 2)
    if p.get("tune"):
        _tune_table(out, p["tune"])
    out.line()
    for finding in report.findings:
        _finding(out, finding, verbose)
    for gate in report.gates:
        state = out.style("TRIPPED", "red") if gate["tripped"] else out.style("ok", "green")
        out.wrapped(
            f"--fail-if {clean(gate['condition'])}: {state} ({clean(gate['detail'])})",
            2,
            styled=True,
        )


def _first(p: dict[str, Any]) -> str:
    """The first step, where it is more than twice the p95 (it traces, builds or starts the
    workers): without it a mean above the p95 reads as a mistake."""
    first = p["data_wait"].get("first_steps") or {}
    p95 = p["steps"]["duration"]["p95_s"]
    if first.get("count") != 1 or not isinstance(p95, (int, float)):
        return ""
    took = first.get("time_s")
    return f"; the first {_ms(took)}" if isinstance(took, (int, float)) and took > 2 * p95 else ""


def _who(pid: int, rank: int | None) -> str:
    return f"rank {rank}" if rank is not None else f"pid {pid}"


def _rank_table(out: Out, ranks: list[dict[str, Any]], slowest: dict[str, Any] | None) -> None:
    out.line(f"  {len(ranks)} ranks:")
    out.line(out.style("    rank        steps   step mean   data wait   main thread", "dim"))
    for r in ranks:
        mark = "  ◀ slowest" if slowest and slowest["pid"] == r["pid"] else ""
        who = _who(r["pid"], r["rank"])
        out.line(
            f"    {who:<11} {r['steps']:>5}   {_ms(r['step_mean_s']):>9}   "
            f"{_pct(r['data_wait_fraction']):>9}   {_pct(r['main_thread_busy']):>11}{mark}"
        )


def _tune_table(out: Out, tuned: dict[str, Any]) -> None:
    file, line = tuned["loader_site"]
    out.line()
    out.line(
        f"  --tune: DataLoader at {clean(str(file))}:{line}, {tuned['trial_steps']} steps a trial"
    )
    rows = [("as written", tuned["baseline"]), *((None, t) for t in tuned["trials"])]
    for label, row in rows:
        settings = label or ", ".join(f"{k}={v}" for k, v in (row["settings"] or {}).items())
        mark = "  ◀ fastest" if tuned.get("best") is row or tuned.get("best") == row else ""
        early = " (stopped: slower)" if row.get("stopped_early") else ""
        out.line(
            f"    {clean(settings):<44} {_ms(row['step_s']):>9} a step, data wait "
            f"{_pct(row['data_wait'])}{early}{mark}"
        )


def _ended(ended: dict[str, Any]) -> str:
    status = ended["status"]
    if status == "stopped":
        return f"stopped after the {ended['stopped_by']} window"
    if status == "completed":
        return "exit 0"
    if ended.get("signal"):
        return f"{status} by {ended['signal']}"
    return f"{status}, exit {ended['returncode']}"


def _timelines(out: Out, p: dict[str, Any]) -> None:
    tl = p["timeline"]
    span = f"{tl['interval_s'] * len(tl['data_wait']):.0f} s"
    out.line(f"  data wait  {sparkline(tl['data_wait'])}  {_pct(judged_wait(p))}")
    if p["gpu"]["measured"]:
        gpu = p["gpu"]
        line = f"  GPU busy   {sparkline(tl['gpu_busy'])}  {_pct(gpu['busy_fraction'])}"
        out.line(line + out.style(f" ({clean(gpu['attribution'])})", "dim"))
    else:
        out.wrapped(f"GPU busy   not measured: {p['gpu']['reason']}", 2)
    cores = p["cpu"]["main_process_cores"]
    top = max([v for v in tl["main_cores"] if v is not None] + [1.0])
    main = "n/a" if cores is None else f"{cores:.2f} cores"
    out.line(f"  main CPU   {sparkline(tl['main_cores'], top)}  {main}")
    ranks = {r["pid"]: r["rank"] for r in p.get("ranks") or []}
    whose = ""
    if len(ranks) >= 2 and tl.get("pid") in ranks:  # one rank's, never the ranks summed
        whose = f"; data wait and main CPU of {_who(tl['pid'], ranks[tl['pid']])}"
    out.line(out.style(f"             (whole run, {span}{whose}; ▁ none … █ all)", "dim"))


def _loader_line(loader: dict[str, Any]) -> str:
    site = loader.get("site") or {}
    where = f" at {site['file']}:{site['line']}" if site.get("file") else ""
    config = loader["config"]
    keys = ("batch_size", "num_workers", "pin_memory", "persistent_workers", "prefetch_factor")
    settings = ", ".join(f"{k}={config[k]}" for k in keys if config.get(k) is not None)
    if loader["framework"] == "tensorflow":
        settings = " → ".join(s["op"] for s in loader.get("pipeline", []))
    w = loader["wait"]
    return (
        f"{loader['framework']} {loader['kind']}{where} ({settings}): {loader['batches']} "
        f"batches, wait {_ms(w['mean_s'])} mean, {_ms(w['p95_s'])} p95, {_ms(w['max_s'])} max"
    )


def _cpu_line(cpu: dict[str, Any], loaders: list[dict[str, Any]]) -> str:
    parts = [f"{cpu['cores_available']:g} cores available"]
    if cpu["main_thread_busy"] is not None:
        parts.append(f"main thread busy {_pct(cpu['main_thread_busy'])}")
    if cpu["main_process_cores"] is not None:
        parts.append(f"main process {cpu['main_process_cores']:.2f} cores")
    if cpu["workers"]:
        # As configured: the sampled count is a mean over time (workers start, end, restart).
        configured = sum(
            int(ld["config"].get("num_workers") or 0)
            for ld in loaders
            if ld["in_main_process"] and ld["batches"] and ld.get("phase") != "evaluation"
        )
        count = f"{configured}" if configured else f"{cpu['workers']:.0f}"
        noun = "worker" if count == "1" else "workers"
        parts.append(f"{count} loader {noun} at {_pct(cpu['worker_busy'])} of a core each")
    return "CPU: " + ", ".join(parts)
