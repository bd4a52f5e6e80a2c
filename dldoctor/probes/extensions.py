"""Which extension libraries to probe, after their framework, in its child or their own: a plan.

The installed extensions are read from the distributions (the static ``packages.extensions``
section is gathered later, while the children already run); which names are extensions, the
module each imports and the small call it makes are data (compat_matrix/extensions.toml).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import canonical
from dldoctor.matrix import Matrix
from dldoctor.probes import plan as planning
from dldoctor.probes.collect import new_record
from dldoctor.probes.gate import UNGATED, Turn

JSON = dict[str, Any]
MAX_EXTENSIONS = 16  # children; the rest are listed as not probed
WORKERS = 2  # extension children of their own at a time (each imports torch again: ~2.5 CPU s)
BUDGET_TIMEOUTS = 3  # all extension children together get at most this many probe timeouts
SOURCE = planning.CHILD / "extension_probe.py"


@dataclass(frozen=True)
class ExtensionPlan:
    jobs: dict[str, JSON]  # distribution (canonical) → its child's options
    not_probed: dict[str, str]  # distribution → why it is not probed


def module_of(spec: JSON) -> str:
    """The module an extension is imported as: its row's ``import``, else its name."""
    return str(spec.get("import") or str(spec["name"]).replace("-", "_"))


def names(matrix: Matrix) -> set[str]:
    """Every extension's canonical distribution name (the framework probes leave them out)."""
    return {canonical(str(s["name"])) for s in matrix.tables["extensions"]["extension"]}


def make_plan(
    facts: Facts, matrix: Matrix, probed: tuple[str, ...], wanted: tuple[str, ...] | None
) -> ExtensionPlan:
    """The installed extensions to probe: those of a framework being probed (and, without
    --framework, those of frameworks dldoctor has no probe for, such as tensorrt)."""
    installed = {
        canonical(str(d.get("name") or ""))
        for d in facts.packages.get("distributions") or []
        if isinstance(d, dict)
    }
    jobs: dict[str, JSON] = {}
    not_probed: dict[str, str] = {}
    modules: dict[str, str] = {}
    for spec in matrix.tables["extensions"]["extension"]:
        name, framework, module = (
            canonical(str(spec["name"])),
            spec.get("framework"),
            module_of(spec),
        )
        if name not in installed:
            continue
        if module in planning.PROBED:
            not_probed[name] = f"imported by the {module} probe"
        elif framework in planning.PROBED and framework not in probed:
            not_probed[name] = f"{framework} is not probed"
        elif framework not in planning.PROBED and wanted is not None:
            not_probed[name] = "--framework names the frameworks to probe"
        elif module in modules:
            not_probed[name] = f"its module {module} is probed with {modules[module]}"
        elif len(jobs) >= MAX_EXTENSIONS:
            not_probed[name] = f"more than {MAX_EXTENSIONS} extensions installed: not probed"
        else:
            modules[module] = name
            after = ["torch"] if framework == "torch" and "torch" in installed else []
            jobs[name] = {"module": module, "after": after, "call": spec.get("call")}
    return ExtensionPlan(jobs, not_probed)


def shared(
    jobs: dict[str, JSON], groups: tuple[tuple[str, ...], ...]
) -> dict[tuple[str, ...], dict[str, JSON]]:
    """The extensions probed in their framework's own child, after its probe, by that child's
    group: each imports torch again in a child of its own otherwise (~2.5 CPU s each)."""
    heads = {group[0]: group for group in groups}
    found: dict[tuple[str, ...], dict[str, JSON]] = {}
    for name, settings in jobs.items():
        after = list(settings.get("after") or [])
        if len(after) == 1 and after[0] in heads:
            found.setdefault(heads[after[0]], {})[name] = settings
    return found


def unstarted(record: JSON) -> bool:
    """A record its child never began (it died first, or could not start): no duration."""
    return record.get("duration_s") is None and record.get("status") != "interrupted"


def after_framework(
    records: dict[str, JSON],
    extensions: dict[str, JSON],
    again: Callable[[str, JSON], tuple[dict[str, JSON], list[str]]],
) -> tuple[dict[str, JSON], list[str]]:
    """The records of extensions run in their framework's child, judged as in a child of their
    own: a framework that failed is settled as ever, and the extensions the child never began
    (one before them crashed it, or hung until killed) each get a child of their own, ``again``,
    so that one extension's crash never costs another its verdict."""
    errors: list[str] = []
    for name, settings in extensions.items():
        if unstarted(records[name]):
            more, said = again(name, settings)
            records[name] = more[name]
            errors += said
        else:
            settle(records[name], settings)
    return records, errors


def job(name: str, options: JSON) -> JSON:
    """One extension's child arguments: the extension probe module as source."""
    return {
        "framework": name,
        "source": SOURCE.read_text(encoding="utf-8"),
        "filename": str(SOURCE),
        "options": dict(options),
    }


def settle(record: JSON, options: JSON) -> JSON:
    """An extension whose framework did not import was not probed: that is the framework's
    finding (its own probe), not the extension's."""
    for name in options.get("after") or []:
        before = (record.get("companions") or {}).get(name)
        failed = isinstance(before, dict) and not before.get("ok")
        died = record.get("during") == f"import {name}"  # crashed or hung importing it
        if record.get("import") is None and (failed or died):
            record["status"] = "skip"
            record["reason"] = f"not run: {name} failed to import (its own probe says why)"
    return record


def run_extension(
    job_of: tuple[str, JSON],
    how: tuple[Any, tuple[int | None, str, str, int], threading.Event, float],
    run_group: Callable[..., tuple[dict[str, JSON], list[str]]],
    notify: Callable[[Any], None] = lambda event: None,
    turn: Turn = UNGATED,
) -> tuple[dict[str, JSON], list[str]]:
    """One extension in its own child, as a framework is probed: ``run_group`` is the probes'
    own (probe._probe_group: the same harness and runner). ``how``: the probe options, where
    the children run, the cancel flag, and the deadline of all extension children; ``notify``
    gets the progress events (the live display shows extensions beside frameworks); ``turn``
    its place among the children (probes/gate.py)."""
    name, settings = job_of
    options, where, cancel, deadline = how
    if cancel.is_set() or time.monotonic() >= deadline:
        turn.finished()
        record = new_record()
        record["status"] = "interrupted" if cancel.is_set() else "skip"
        record["reason"] = (
            "interrupted"
            if cancel.is_set()
            else f"not run: the extensions' probe time ({BUDGET_TIMEOUTS} timeouts) was spent"
        )
        return {name: record}, []

    def forward(event: Any) -> None:  # progress: the record as it will be judged
        if event.kind == "end" and isinstance(event.record, dict):
            settle(event.record, settings)
        notify(event)

    jobs = lambda: [job(name, settings)]  # noqa: E731  (read when the child starts)
    records, errors = run_group((name,), jobs, options, where, forward, cancel, turn)
    return {name: settle(records[name], settings)}, errors
