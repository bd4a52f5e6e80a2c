"""Profile findings on where each step's time goes and ``--tune`` (DD712, DD714).

Registered in ``rules``' registry (imported at its end), like every DD7xx rule.
"""

from __future__ import annotations

from dldoctor.model import Finding, Fix, Severity
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.rules import JSON, _finding, _verdict, rule
from dldoctor.profilers.thresholds import pct


def loop_body(profile: JSON) -> float | None:
    """The loop body's share of step time when it is large enough to name, else None."""
    breakdown = profile.get("step_breakdown") or {}
    if not breakdown.get("measured") or _verdict(profile) in ("unknown", "gpu-bound"):
        return None
    share = breakdown["fractions"]["loop_body"]
    return float(share) if share >= th.LOOP_BODY else None


@rule(
    "DD712",
    "loop-body-python",
    f"The loop body's own Python work (outside data wait, copy, forward, backward and the "
    f"optimizer step) takes ≥ {pct(th.LOOP_BODY)} of step time",
)
def loop_body_python(profile: JSON) -> list[Finding]:
    share = loop_body(profile)
    if share is None:
        return []
    fractions = profile["step_breakdown"]["fractions"]
    model = sum(fractions.get(k, 0.0) for k in ("forward", "backward", "optimizer", "compiled"))
    title = (
        f"The training loop's own Python code takes {pct(share)} of each step, outside data "
        f"loading and the model (forward, backward and optimizer: {pct(model)})"
    )
    sampled = profile.get("loop_body_samples") or {}
    lines = [
        f"{r['file']}:{r['line']} in {r['function']} ({pct(r['share'])})"
        for r in sampled.get("user", [])[:3]
    ]
    leaf = [
        f"{r['function']} ({r['file']}:{r['line']}, {pct(r['share'])})"
        for r in sampled.get("leaf", [])[:3]
    ]
    notes = "Sampled in the main thread outside the timed phases: "
    notes += "; ".join(lines) + "." if lines else "no line of your code was sampled."
    if leaf:
        notes += " Innermost functions: " + "; ".join(leaf) + "."
    notes += (
        " On a GPU, time spent waiting for the GPU at a synchronisation (.item(), .cpu(), "
        "printing a tensor) also shows here."
    )
    fix = Fix(
        summary="move the per-batch work out of the training loop: into the Dataset's "
        "__getitem__ or a collate_fn, so loader workers do it in parallel, or vectorise it",
        notes=notes,
    )
    evidence = {"step_breakdown": fractions, "top_lines": sampled.get("user", [])}
    return [_finding("DD712", Severity.WARNING, title, evidence, fix)]


@rule(
    "DD714",
    "tuned-loader",
    "--tune measured a DataLoader setting that makes steps faster than the script's own",
)
def tuned_loader(profile: JSON) -> list[Finding]:
    tuned = profile.get("tune") or {}
    best, baseline = tuned.get("best"), tuned.get("baseline")
    if not best or not baseline or not baseline.get("step_s"):
        return []
    settings = ", ".join(f"{k}={v}" for k, v in best["settings"].items())
    speedup = baseline["step_s"] / best["step_s"]
    file, line = tuned["loader_site"]
    title = (
        f"Measured with --tune: {settings} makes each step {speedup:.1f}× faster "
        f"({best['step_s'] * 1e3:.1f} ms against {baseline['step_s'] * 1e3:.1f} ms)"
    )
    fix = Fix(
        summary=f"set {settings} in the DataLoader built at {file}:{line}",
        notes=f"Measured over {tuned['trial_steps']} steps per trial, "
        f"{len(tuned['trials'])} settings tried; the script's code was not changed to try "
        "them (the same import hook applied each).",
    )
    evidence = {"baseline": baseline, "best": best, "trials": len(tuned["trials"])}
    return [_finding("DD714", Severity.WARNING, title, evidence, fix)]
