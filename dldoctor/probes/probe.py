"""Probe every planned framework in parallel children; the result is the ``runtime`` facts section."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.probes import plan as planning
from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.loads import annotate
from dldoctor.probes.runner import run_child

JSON = dict[str, Any]
GIB = 1 << 30
DEFAULT_TIMEOUT_S = 60.0
COMPILE_TIMEOUT_S = 300.0  # torch.compile under --full: a C++ toolchain, minutes on small machines


@dataclass(frozen=True)
class ProbeOptions:
    python: str  # the interpreter whose frameworks are probed
    frameworks: tuple[str, ...] | None = None  # None: every installed framework with a probe
    full: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S  # per framework
    memory_limit_bytes: int | None = None  # per child; None: half of RAM (at least 2 GiB)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class ProbeEvent:
    """Progress: ``start`` (child launched), ``phase`` (what it is doing), ``end`` (record final)."""

    kind: str
    framework: str
    detail: str = ""
    record: JSON | None = None


def default_memory_limit(facts: Facts) -> int | None:
    total = (facts.system.get("memory") or {}).get("total_bytes")
    if not isinstance(total, int) or total <= 0:
        return None
    return max(2 * GIB, total // 2)


def run_probes(
    facts: Facts,
    matrix: Matrix,
    options: ProbeOptions,
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> JSON:
    """Run the probes; never raises for anything a framework or child does.

    Ctrl-C stops them: the section is still returned, with ``interrupted`` set and the probes
    that had not finished marked "interrupted".
    """
    started = time.monotonic()
    notify = on_event or (lambda event: None)
    plan = planning.make_plan(facts, matrix, options.frameworks, options.env)
    memory = options.memory_limit_bytes or default_memory_limit(facts)
    section: JSON = {
        "ran": True,
        "mode": "full" if options.full else "quick",
        "python": options.python,
        "timeout_s": options.timeout_s,
        "memory_limit_bytes": memory,
        "frameworks": {},
        "not_probed": plan.not_probed,
        "groups": [list(g) for g in plan.groups],
        "errors": [],
    }
    cores = (facts.system.get("cpu") or {}).get("usable_cores")
    nice = planning.niceness(plan.groups, cores if isinstance(cores, int) else os.cpu_count())
    if plan.groups:
        with tempfile.TemporaryDirectory(prefix="dldoctor-probe-") as workdir:
            lock = os.path.join(workdir, "accelerator.lock")
            cancel = threading.Event()
            with ThreadPoolExecutor(max_workers=len(plan.groups)) as pool:
                futures = [
                    pool.submit(
                        _run_group,
                        group,
                        plan,
                        options,
                        (memory, workdir, lock, nice[group]),
                        notify,
                        cancel,
                    )
                    for group in plan.groups
                ]
                try:
                    results = [future.result() for future in futures]
                except KeyboardInterrupt:  # Ctrl-C: the children are killed, what they said kept
                    cancel.set()
                    section["interrupted"] = True
                    results = [future.result() for future in futures]
                except BaseException:  # every child is killed before we leave
                    cancel.set()
                    raise
            for records, errors in results:
                section["frameworks"].update(records)
                section["errors"] += errors
    for record in section["frameworks"].values():
        try:
            annotate(record, matrix)
        except Exception as exc:  # a fact left out, never the section
            section["errors"].append(f"library facts: {type(exc).__name__}: {exc}")
    order = {key: i for i, key in enumerate(planning.PROBED)}
    section["frameworks"] = dict(
        sorted(section["frameworks"].items(), key=lambda kv: order.get(kv[0], 99))
    )
    section["duration_s"] = round(time.monotonic() - started, 3)
    return section


def _run_group(
    group: tuple[str, ...],
    plan: planning.Plan,
    options: ProbeOptions,
    where: tuple[int | None, str, str, int],
    notify: Callable[[ProbeEvent], None],
    cancel: threading.Event,
) -> tuple[dict[str, JSON], list[str]]:
    memory, workdir, lock, nice = where
    records = ChildRecords(list(group), workdir)
    try:
        args = {
            "workdir": workdir,
            "nice": nice,
            "options": {
                "full": options.full,
                "compile_timeout_s": COMPILE_TIMEOUT_S,
                "lock_file": lock,
            },
            "jobs": [
                planning.job(key, plan.companions.get(key, []), plan.options.get(key))
                for key in group
            ],
        }
        source = planning.harness_source()
    except OSError as exc:  # an installation missing its probe files
        for key in group:
            records.records[key].update(status="skip", reason=f"probe unavailable: {exc}")
        return records.records, [f"probe source unreadable: {exc}"]
    for key in group:
        notify(ProbeEvent("start", key, "starting" if key == group[0] else f"after {group[0]}"))

    def on_message(message: JSON) -> None:
        try:
            finished = records.feed(message)
        except Exception:  # a malformed message must not cost the others
            return
        name = message.get("framework")
        if message.get("type") == "phase" and isinstance(name, str) and name in group:
            notify(ProbeEvent("phase", name, str(message.get("phase"))))
        if finished:
            notify(ProbeEvent("end", finished, record=records.records[finished]))

    outcome = run_child(
        [options.python, "-c", source],
        args,
        options.timeout_s,
        env=planning.child_env(options.env),
        cwd=workdir,
        on_message=on_message,
        cancel=cancel,
        memory_limit_bytes=memory,
    )
    for name in records.finish(outcome, memory):
        notify(ProbeEvent("end", name, record=records.records[name]))
    errors = []
    if outcome.bad_lines:
        errors.append(f"{'+'.join(group)} child: {outcome.bad_lines} unreadable channel line(s)")
    return records.records, errors
