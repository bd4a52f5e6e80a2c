"""The fix plan: the findings' intents merged into one step per root cause, in order; and running it.

Order: prerequisites first (one NVIDIA driver upgrade, to the one version every build the plan
installs runs on), then removals, then installs, then the rest; a step names the steps it waits
for. A finding's fixes are alternatives ("or install an older torch"): the plan takes its first.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Callable

from packaging.version import InvalidVersion, Version

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, acts_on, shown
from dldoctor.fixes.intents import PACKAGES, render_all
from dldoctor.model import Finding, Fix, Intent, Severity

DRIVER, REMOVE, INSTALL, OTHER = "driver", "remove", "install", "other"
_ORDER = {DRIVER: 0, REMOVE: 1, INSTALL: 2, OTHER: 3}


@dataclass(frozen=True)
class Step:
    fix: Fix
    codes: tuple[str, ...]  # the findings this step answers
    commands: tuple[Command, ...] = field(default=())  # what is left to run (duplicates removed)
    runnable: bool = False  # --apply may run it: automatic, and every command names the judged env
    kind: str = OTHER  # driver, remove, install, other: the order of the plan
    needs_driver: str | None = None  # --apply re-checks the loaded driver is at least this first
    after: tuple[int, ...] = ()  # numbers (1-based) of the steps that must be done before
    makes_way_for: tuple[str, ...] = ()  # a removal: the requirements of the install it precedes


def newest(versions: Iterable[str | None]) -> str | None:
    """The highest of driver versions ("580.65.06" > "560.28.03"); unparsable ones left out."""
    parsed = []
    for v in versions:
        try:
            parsed.append((Version(v), v)) if v else None
        except InvalidVersion:
            continue
    return max(parsed)[1] if parsed else None


def below(driver: str | None, needed: str | None) -> bool | None:
    """Whether ``driver`` is older than ``needed``; None when either is unknown."""
    try:
        return Version(driver) < Version(needed) if driver and needed else None
    except InvalidVersion:
        return None


def plan(findings: list[Finding], facts: Facts | None = None) -> list[Step]:
    """Steps for findings of warning and error severity, merged and ordered; a command once.

    A step is runnable only when its fix is automatic and each of its commands acts on the
    judged environment by name (``commands.acts_on``); without ``facts`` none is.
    """
    from dldoctor.fixes.driver import install_driver

    chosen = [
        (f.code, f.fixes[0])
        for f in findings
        if f.severity.rank >= Severity.WARNING.rank and f.fixes
    ]
    drivers: list[tuple[str, str | None]] = []  # (code, minimum) of every driver the plan needs
    steps: list[Step] = []
    seen_installs: dict[tuple[tuple[str, ...], str | None], int] = {}
    removed: set[str] = set()
    driver_now = q.driver_version(facts) if facts is not None else None
    for code, fix in chosen:
        others = [i for i in fix.intents if i.action not in ("driver", *PACKAGES)]
        if not fix.intents or others:  # for a person (or from a report without intents)
            commands = fix.commands  # the package intents, if any, are steps of their own:
            if others and facts is not None:  # these are rendered from their intents here
                commands = render_all(others, facts)
            _other_step(steps, Step(fix, (code,), commands, kind=OTHER))
        for intent in fix.intents:
            if intent.action == "driver":
                drivers.append((code, intent.driver))
            elif intent.action in PACKAGES:
                needs = intent.driver
                if below(driver_now, needs):  # unknown judges nothing: --apply reads it again
                    drivers.append((code, needs))
                steps += _package_steps(
                    code, fix, intent, needs, facts, seen_installs, removed, steps
                )
    if drivers and facts is not None:
        minimum = newest(m for _, m in drivers)
        codes = tuple(dict.fromkeys(c for c, _ in drivers))
        why = (
            "for every build this plan installs"
            if any(s.needs_driver for s in steps)
            else "for the builds installed"
        )
        steps.append(Step(install_driver(facts, minimum, why), codes, kind=DRIVER))
    steps = _ordered(steps)
    return [_finish(s, n, steps, facts) for n, s in enumerate(steps, 1)]


def _other_step(steps: list[Step], step: Step) -> None:
    """A step for a person; the same commands for another finding are one step, both codes."""
    same = next(
        (i for i, s in enumerate(steps) if step.commands and s.commands == step.commands), None
    )
    if same is None:
        steps.append(step)
    else:
        steps[same] = replace(steps[same], codes=(*steps[same].codes, *step.codes))


def _package_steps(
    code: str,
    fix: Fix,
    intent: Intent,
    needs: str | None,
    facts: Facts | None,
    seen: dict[tuple[tuple[str, ...], str | None], int],
    removed: set[str],
    steps: list[Step],
) -> list[Step]:
    """A removal step (what is not removed yet) and an install step (unless already planned)."""
    from dldoctor.fixes.installers import render

    out: list[Step] = []
    names = tuple(n for n in intent.remove_first if n not in removed)
    removed.update(names)
    if names:
        manager = intent.manager if intent.action == "remove" else None  # conda packages stay so
        only = Intent(remove_first=names, copies=intent.copies, action="remove", manager=manager)
        commands = render(only, facts) if facts is not None else ()
        what = Fix(f"Remove {', '.join(names)}.", commands, fix.automatic, intents=(only,))
        out.append(
            Step(
                what,
                (code,),
                commands,
                kind=REMOVE,
                needs_driver=needs,
                makes_way_for=intent.requirements,
            )
        )
    if intent.action != "install" or not intent.requirements:
        return out
    key = (intent.requirements, intent.index_url)
    if key in seen:  # the same install for another finding: one step, both codes
        index = seen[key]
        steps[index] = replace(steps[index], codes=(*steps[index].codes, code))
        return out
    seen[key] = len(steps) + len(out)
    bare = replace(intent, remove_first=())
    commands = render(bare, facts) if facts is not None else fix.commands
    summary = _summary(bare) if needs else fix.summary
    done = replace(fix, summary=summary, commands=commands, intents=(bare,))
    out.append(Step(done, (code,), commands, kind=INSTALL, needs_driver=needs))
    return out


def _summary(intent: Intent) -> str:
    """An install of a GPU build, said without the driver (the plan's own driver step says it)."""
    what = ", ".join(intent.requirements)
    built = f", built for CUDA {intent.cuda}" if intent.cuda else ""
    return f"Install {what}{built}."


def _ordered(steps: list[Step]) -> list[Step]:
    """Stable sort by kind; the install indexes recorded while building are re-derived after."""
    return sorted(steps, key=lambda s: _ORDER[s.kind])


def _finish(step: Step, number: int, steps: list[Step], facts: Facts | None) -> Step:
    """De-duplicated commands, runnable or not, and the earlier steps it waits for."""
    earlier = steps[: number - 1]
    done = {c for s in earlier for c in s.commands}
    commands = tuple(c for c in step.commands if c not in done)
    after = tuple(
        i
        for i, s in enumerate(earlier, 1)
        if (s.kind == DRIVER and step.needs_driver)
        or (step.kind == INSTALL and s.makes_way_for == step.fix.intents[0].requirements != ())
    )
    runnable = (
        step.fix.automatic
        and bool(commands)
        and facts is not None
        and all(acts_on(c, facts) for c in commands)
    )
    return replace(step, commands=commands, runnable=runnable, after=after)


def apply(
    steps: list[Step],
    echo: Callable[[str], None],
    run: Callable[[Command], int] | None = None,
    driver_now: Callable[[], str | None] | None = None,
) -> int:
    """Run the runnable steps' commands in order; stop at the first that fails. Exit status.

    Before the first step that installs (or clears the way for) a GPU build, the loaded driver is
    read again (``driver_now``, through the facts' own NVML door): while it is older than the
    build needs, or cannot be read, those steps are refused and nothing of them runs.
    """
    runner = run or _run
    driver: list[str | None] = []  # read once, lazily
    refused = False
    for step in steps:
        if not step.runnable or not step.commands:
            continue
        if step.needs_driver:
            if not driver:
                driver.append(driver_now() if driver_now else None)
            if below(driver[0], step.needs_driver) is not False:
                loaded = (
                    f"driver {driver[0]} is loaded"
                    if driver[0]
                    else "the loaded driver cannot be read"
                )
                echo(
                    f"dldoctor: not running step {steps.index(step) + 1}: it needs NVIDIA driver "
                    f"{step.needs_driver} or newer, and {loaded}. Upgrade the driver first."
                )
                refused = True
                continue
        for command in step.commands:
            echo(f"$ {shown(command)}")
            status = runner(command)
            if status != 0:
                echo(f"dldoctor: `{shown(command)}` exited with {status}; stopping here.")
                return 1
    return 1 if refused else 0


def _run(command: Command) -> int:
    """One argument vector, no shell: nothing in it is parsed, expanded or substituted."""
    try:
        return subprocess.run(list(command), shell=False, check=False).returncode
    except OSError as exc:  # the program is missing or not executable
        return 127 if isinstance(exc, FileNotFoundError) else 126
