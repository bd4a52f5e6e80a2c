"""When the driver is the issue, two plans: (A) upgrade it, then the builds these GPUs run best;
(B) keep it, with the newest releases it runs. Each says what it costs. And one environment's
plan, or two when the builds cannot share one."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, replace

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.builds import LABELS
from dldoctor.fixes.commands import Command, environment_prefix, interpreter
from dldoctor.fixes.driver import install_driver
from dldoctor.fixes.installers import Installer, conda_tool, fix, installer_for
from dldoctor.fixes.plan import DRIVER, Step, below, plan
from dldoctor.fixes.resolve import Resolution, _installed, keep_driver, upgrade
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Area, Finding, Fix, Severity


@dataclass(frozen=True)
class Alternative:
    letter: str  # "A" or "B"
    headline: str
    costs: str  # what choosing it means ("B stays on torch 2.7")
    resolution: Resolution
    steps: list[Step]
    second: list[Step] = dataclasses.field(default_factory=list)  # another environment's steps


def _framework(finding: Finding) -> str | None:
    """The framework a finding's plan is about: its fix's intent says, else its evidence (a
    driver too old for torch's CUDA build is answered by A's driver or B's older torch)."""
    fix = finding.fixes[0] if finding.fixes else None
    named = next((i.framework for i in (fix.intents if fix else ()) if i.framework), None)
    if named is None and fix and any(i.action == "driver" for i in fix.intents):
        named = finding.evidence.get("framework")
    return named if isinstance(named, str) else None


def _about_driver(finding: Finding) -> bool:
    fix = finding.fixes[0] if finding.fixes else None
    return bool(fix and any(i.action == "driver" for i in fix.intents))


def alternatives(findings: list[Finding], facts: Facts, matrix: Matrix) -> list[Alternative]:
    """A and B when the plan starts with a driver upgrade; [] when the driver is not the issue."""
    base = plan(findings, facts)
    if not any(s.kind == DRIVER for s in base):
        return []
    wanted = [f for f in findings if f.severity.rank >= Severity.WARNING.rank]
    frameworks = list(dict.fromkeys(k for k in map(_framework, wanted) if k in LABELS))
    if not frameworks:  # a driver to install with no GPU build waiting on it: one plain plan
        return []
    codes = {k: next(f.code for f in wanted if _framework(f) == k) for k in frameworks}
    rest = [f for f in wanted if _framework(f) is None and not _about_driver(f)]
    driver_code = next((f.code for f in wanted if _about_driver(f)), "DD501")
    a = upgrade(frameworks, facts, matrix)
    out = [_alternative("A", a, facts, rest, codes, driver_code)]
    b = keep_driver(frameworks, facts, matrix)
    if b is not None and b.builds:
        out.append(_alternative("B", b, facts, rest, codes, driver_code))
    return out


def install_alternatives(frameworks: list[str], facts: Facts, matrix: Matrix) -> list[Alternative]:
    """`dldoctor install`: the newest builds that work here (A); B too when A needs a new driver."""
    a = upgrade(frameworks, facts, matrix, False, q.driver_version(facts))
    out = [_alternative("A", a, facts, [], {}, "")]
    if below(q.driver_version(facts), a.driver):
        b = keep_driver(frameworks, facts, matrix, cap=False)
        if b is not None and b.builds:
            out.append(_alternative("B", b, facts, [], {}, ""))
    return out


def resolved_plan(
    resolution: Resolution,
    facts: Facts,
    upgrade_driver: bool,
    codes: dict[str, str] | None = None,
    rest: list[Finding] | None = None,
    driver_code: str = "",
) -> tuple[list[Step], list[Step]]:
    """The steps of this environment, and of a second one when the builds cannot share one."""
    codes = codes or {}
    first = resolution.groups[0] if resolution.conflict else resolution.builds
    findings = list(rest or [])
    if upgrade_driver and below(q.driver_version(facts), resolution.driver):
        why = "for every build this plan installs"
        findings.append(_finding(driver_code, install_driver(facts, resolution.driver, why)))
    for intent in resolution.intents(first):
        label = LABELS[intent.framework or ""]
        summary = f"Install {label}'s CUDA {intent.cuda} build."
        findings.append(
            _finding(codes.get(intent.framework or "", ""), fix(summary, intent, facts))
        )
    steps = plan(findings, facts)
    if not resolution.conflict or len(resolution.groups) < 2:
        return steps, []
    other, create = second_environment(facts, resolution.groups[1][0].framework)
    if upgrade_driver and resolution.driver:  # the machine's driver, upgraded once by the first
        other = replace(other, nvidia=dict(other.nvidia, driver_version=resolution.driver))
    extra = []
    for intent in resolution.intents(resolution.groups[1]):
        there = dataclasses.replace(intent, remove_first=())  # nothing is installed there yet
        summary = f"Install {LABELS[intent.framework or '']}'s CUDA {intent.cuda} build there."
        code = codes.get(intent.framework or "", "")
        extra.append(_finding(code, fix(summary, there, other, automatic=False)))
    made = Fix(f"Create a second environment at {environment_prefix(other)}.", (create,))
    later = [replace(s, after=(1, *(n + 1 for n in s.after))) for s in plan(extra, other)]
    return steps, [Step(made, ("",), (create,)), *later]


def _finding(code: str, remedy: Fix) -> Finding:
    return Finding(code, Severity.ERROR, remedy.summary, Area.FRAMEWORKS, fixes=(remedy,))


def _alternative(
    letter: str,
    resolution: Resolution,
    facts: Facts,
    rest: list[Finding],
    codes: dict[str, str],
    driver_code: str,
) -> Alternative:
    steps, second = resolved_plan(resolution, facts, letter == "A", codes, rest, driver_code)
    chosen = ", ".join(f"{b.label} (CUDA {b.cuda})" for b in resolution.builds) or "none"
    if letter == "A" and not any(s.kind == DRIVER for s in steps):
        headline = f"The builds these GPUs run best: {chosen}."
        costs = "It needs no driver change."
    elif letter == "A":
        headline = f"A. Upgrade the NVIDIA driver to {resolution.driver} or newer, then install the builds these GPUs run best: {chosen}."
        costs = "A costs a driver upgrade by hand and a reboot before any GPU build is installed."
    else:
        headline = f"B. Keep driver {resolution.driver}: {chosen}."
        costs = "B " + _b_costs(resolution, facts) + "."
    return Alternative(letter, headline, costs, resolution, steps, second)


def _b_costs(resolution: Resolution, facts: Facts) -> str:
    stays = []
    for build in resolution.builds:
        installed = _installed(facts, build.framework)
        older = installed and minor_of(installed) != minor_of(build.release)
        stays.append(build.label + (f" ({installed} is installed)" if older else ""))
    parts = [f"stays on {', '.join(stays)}"] if stays else []
    parts += [f"leaves {LABELS[n]} on the CPU ({why})" for n, why in resolution.missing.items()]
    if resolution.conflict:
        parts.append("and needs a second environment")
    return "; ".join(parts) or "changes nothing"


def second_environment(facts: Facts, framework: str) -> tuple[Facts, Command]:
    """Facts for a new environment beside the judged one, and the command that creates it."""
    prefix = environment_prefix(facts) or os.path.dirname(os.path.dirname(interpreter(facts)))
    where = f"{prefix.rstrip('/')}-{framework}"
    python = os.path.join(where, "bin", "python")
    tool = installer_for(facts)
    if tool is Installer.UV:
        create: Command = ("uv", "venv", "--python", interpreter(facts), where)
    elif (facts.python.get("environment") or {}).get("manager") in ("conda", "mamba"):
        minor = minor_of(str(facts.python.get("version") or ""))  # "" when unknown
        create = (
            conda_tool(facts),
            "create",
            "--prefix",
            where,
            "-y",
            f"python={minor}" if minor else "python",  # `python=` would pin nothing valid
            "pip",
        )
    else:
        create = (interpreter(facts), "-m", "venv", where)
    python_section = dict(facts.python, command=python, executable=python, prefix=where)
    packages = dict(facts.packages, distributions=[])  # nothing installed there yet
    return dataclasses.replace(facts, python=python_section, packages=packages), create
