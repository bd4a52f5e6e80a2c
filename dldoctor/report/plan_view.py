"""The fix plan as lines of text, and as JSON: every string may come from facts or a report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dldoctor.fixes.commands import shown
from dldoctor.report.clean import clean

if TYPE_CHECKING:
    from dldoctor.fixes.alternatives import Alternative
    from dldoctor.fixes.builds import Build
    from dldoctor.fixes.plan import Step
    from dldoctor.fixes.resolve import Resolution


def steps_lines(steps: list[Step], indent: str = "") -> list[str]:
    """The numbered steps, each with its commands and the steps it waits for."""
    out = []
    for number, step in enumerate(steps, 1):
        how = "automatic" if step.runnable else "by hand"
        after = f", after {', '.join(map(str, step.after))}" if step.after else ""
        codes = f"[{clean(', '.join(c for c in step.codes if c))}] " if any(step.codes) else ""
        out.append(f"{indent}{number}. {codes}{clean(step.fix.summary)} ({how}{after})")
        out += [f"{indent}     $ {clean(shown(c))}" for c in step.commands]
        if step.fix.notes:
            out.append(f"{indent}     {clean(step.fix.notes)}")
    return out


def resolution_lines(resolution: Resolution, indent: str = "   ") -> list[str]:
    """The builds chosen, the NVIDIA wheels they share, and what does not fit."""
    out = [f"{indent}{_build(b)}" for b in resolution.builds]
    out += [f"{indent}{clean(name)}: {clean(why)}" for name, why in resolution.missing.items()]
    if resolution.pins and not resolution.conflict:
        pins = ", ".join(f"{w}{s}" for w, s in sorted(resolution.pins.items()))
        out.append(f"{indent}NVIDIA wheels, one set for all: {clean(pins)}")
    if resolution.conflict:
        out.append(f"{indent}These cannot share one environment: {clean(resolution.conflict)}.")
    return out


def _build(build: Build) -> str:
    where = f" from {build.index_url}" if build.index_url else ""
    return clean(f"{build.label}: CUDA {build.cuda} build ({', '.join(build.requirements)}{where})")


def alternative_lines(alternative: Alternative) -> list[str]:
    out = [clean(alternative.headline), *resolution_lines(alternative.resolution)]
    out += steps_lines(alternative.steps, "   ")
    if alternative.second:
        out.append("   In the second environment:")
        out += steps_lines(alternative.second, "   ")
    out.append(f"   {clean(alternative.costs)}")
    return out


def step_json(step: Step) -> dict[str, Any]:
    return {
        "summary": step.fix.summary,
        "codes": list(step.codes),
        "kind": step.kind,
        "commands": [list(c) for c in step.commands],
        "runnable": step.runnable,
        "after": list(step.after),
        "needs_driver": step.needs_driver,
        "notes": step.fix.notes,
    }


def resolution_json(resolution: Resolution) -> dict[str, Any]:
    return {
        "driver": resolution.driver,
        "builds": [
            {
                "framework": b.framework,
                "release": b.release,
                "cuda": b.cuda,
                "requirements": list(b.requirements),
                "index_url": b.index_url,
                "remove": list(b.remove),
                "driver_full": b.driver_full,
                "driver_mvc": b.driver_mvc,
                "pins": dict(b.pins),
            }
            for b in resolution.builds
        ],
        "missing": dict(resolution.missing),
        "nvidia_wheels": dict(resolution.pins),
        "conflict": resolution.conflict or None,
        "environments": [[b.framework for b in g] for g in resolution.groups],
    }


def alternative_json(alternative: Alternative) -> dict[str, Any]:
    return {
        "letter": alternative.letter,
        "headline": alternative.headline,
        "costs": alternative.costs,
        **resolution_json(alternative.resolution),
        "steps": [step_json(s) for s in alternative.steps],
        "second_environment_steps": [step_json(s) for s in alternative.second],
    }
