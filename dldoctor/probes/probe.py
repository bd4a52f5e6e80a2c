"""Probe every planned framework in parallel children; the result is the ``runtime`` facts section."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.probes import deferral
from dldoctor.probes import extensions as ext_planning
from dldoctor.probes import plan as planning
from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.gate import UNGATED, Gate, Turn
from dldoctor.probes.loads import annotate
from dldoctor.probes.runner import ChildOutcome, run_child

JSON = dict[str, Any]
GIB = 1 << 30
DEFAULT_TIMEOUT_S = 60.0
TEMP = "tmp"  # the children's temporary directory, in the work directory
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
    return start_probes(facts, matrix, options, on_event).finish()


def start_probes(
    facts: Facts,
    matrix: Matrix,
    options: ProbeOptions,
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> Running:
    """Start every child now and return at once; ``finish()`` collects them (``cancel()`` kills).

    ``facts`` need hold only the system and interpreter sections: the plan reads the installed
    frameworks, the usable cores and the memory. The children are started one after another,
    the longest first, each once the one before it is running and a core is free for it
    (probes/gate.py): on two cores the long pole (TensorFlow's import) starts at t=0 and has
    its core to itself while the short ones follow one another on the other.
    """
    return Running(facts, matrix, options, on_event or (lambda event: None))


class Running:
    """Probe children under way: their threads, the Ctrl-C flag, their work directory."""

    def __init__(
        self,
        facts: Facts,
        matrix: Matrix,
        options: ProbeOptions,
        notify: Callable[[ProbeEvent], None],
    ) -> None:
        self.started = time.monotonic()
        self.matrix = matrix
        self.cancelled = threading.Event()
        self.futures: list[Future[tuple[dict[str, JSON], list[str]]]] = []
        self.ext_futures: list[Future[tuple[dict[str, JSON], list[str]]]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.ext_pool: ThreadPoolExecutor | None = None
        self.workdir: tempfile.TemporaryDirectory[str] | None = None
        plan = planning.make_plan(facts, matrix, options.frameworks, options.env)
        probed = tuple(key for group in plan.groups for key in group)
        self.ext_plan = ext_planning.make_plan(facts, matrix, probed, options.frameworks)
        memory = options.memory_limit_bytes or default_memory_limit(facts)
        self.section: JSON = {
            "ran": True,
            "mode": "full" if options.full else "quick",
            "python": options.python,
            "timeout_s": options.timeout_s,
            "memory_limit_bytes": memory,
            "frameworks": {},
            "not_probed": plan.not_probed,
            "groups": [list(g) for g in plan.groups],
            "errors": [],
            "extensions": {},
            "extensions_not_probed": self.ext_plan.not_probed,
        }
        if not plan.groups and not self.ext_plan.jobs:
            return
        usable = (facts.system.get("cpu") or {}).get("usable_cores")
        cores = usable if isinstance(usable, int) and usable > 0 else (os.cpu_count() or 1)
        nice = planning.niceness(plan.groups, cores)
        self.gate = Gate(cores, self.cancelled)
        self.workdir = tempfile.TemporaryDirectory(prefix="dldoctor-probe-")
        os.mkdir(os.path.join(self.workdir.name, TEMP))  # the children's (planning.child_env)
        where = self.workdir.name, os.path.join(self.workdir.name, "accelerator.lock")
        self.deadline = self.started + ext_planning.BUDGET_TIMEOUTS * options.timeout_s
        # torch's extensions run in torch's child, after its probe: torch is imported once.
        shared = ext_planning.shared(self.ext_plan.jobs, plan.groups)
        ext_where = (memory, *where, planning.NICE)

        def again(name: str, settings: JSON) -> tuple[dict[str, JSON], list[str]]:
            how = (options, ext_where, self.cancelled, self.deadline)
            turn = self.gate.turn()
            return ext_planning.run_extension((name, settings), how, _probe_group, notify, turn)

        self.pool = ThreadPoolExecutor(max_workers=max(1, len(plan.groups)))
        try:
            for group in planning.launch_order(plan.groups):
                self.futures.append(
                    self.pool.submit(
                        _run_group,
                        (group, plan, shared.get(group) or {}),
                        options,
                        (memory, *where, nice[group]),
                        notify,
                        (self.cancelled, self.gate.turn(), again),
                    )
                )
            alone = {n: s for n, s in self.ext_plan.jobs.items() if not _in(shared, n)}
            self._start_extensions(alone, options, ext_where, notify)
        except BaseException:  # Ctrl-C while starting them: the ones started are killed
            self.cancel()
            raise

    def _start_extensions(
        self,
        jobs: dict[str, JSON],
        options: ProbeOptions,
        where: tuple[int | None, str, str, int],
        notify: Callable[[ProbeEvent], None],
    ) -> None:
        """One child per extension not run in its framework's child, WORKERS at a time and
        niced (the frameworks' probes come first), all within BUDGET_TIMEOUTS probe timeouts."""
        if not jobs:
            return
        self.ext_pool = ThreadPoolExecutor(max_workers=ext_planning.WORKERS)
        for name, settings in jobs.items():
            self.ext_futures.append(
                self.ext_pool.submit(
                    ext_planning.run_extension,
                    (name, settings),
                    (options, where, self.cancelled, self.deadline),
                    _probe_group,
                    notify,
                    self.gate.turn(),  # after every framework's (the pool keeps their order)
                )
            )

    def finish(self, interrupted: bool = False) -> JSON:
        """Wait for every child; Ctrl-C kills them and marks the section ``interrupted``
        (``interrupted``: a Ctrl-C already came, while the parent did its own work)."""
        futures = self.futures + self.ext_futures
        try:
            try:
                if interrupted:
                    raise KeyboardInterrupt
                results = [future.result() for future in futures]
            except KeyboardInterrupt:  # Ctrl-C: the children are killed, what they said kept
                self.cancelled.set()
                self.section["interrupted"] = True
                results = [future.result() for future in futures]
        except BaseException:  # every child is killed before we leave
            self.cancel()
            raise
        self._close()
        for records, errors in results:  # a framework's child holds its extensions' records too
            for name, record in records.items():
                part = "extensions" if name in self.ext_plan.jobs else "frameworks"
                self.section[part][name] = record
            self.section["errors"] += errors
        for record in self.section["frameworks"].values():
            try:
                annotate(record, matrix=self.matrix)
            except Exception as exc:  # a fact left out, never the section
                self.section["errors"].append(f"library facts: {type(exc).__name__}: {exc}")
        order = {key: i for i, key in enumerate(planning.PROBED)}
        self.section["frameworks"] = dict(
            sorted(self.section["frameworks"].items(), key=lambda kv: order.get(kv[0], 99))
        )
        planned = list(self.ext_plan.jobs)
        self.section["extensions"] = dict(
            sorted(self.section["extensions"].items(), key=lambda kv: planned.index(kv[0]))
        )
        self.section["duration_s"] = round(time.monotonic() - self.started, 3)
        return self.section

    def cancel(self) -> None:
        """Kill every child and wait for their threads (the static facts failed, or Ctrl-C)."""
        self.cancelled.set()
        for future in self.futures + self.ext_futures:
            with contextlib.suppress(BaseException):
                future.result()
        self._close()

    def _close(self) -> None:
        for pool in (self.pool, self.ext_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        if self.workdir is not None:
            self.workdir.cleanup()
            self.workdir = None


def _in(shared: dict[tuple[str, ...], dict[str, JSON]], name: str) -> bool:
    return any(name in extensions for extensions in shared.values())


def _run_group(
    what: tuple[tuple[str, ...], planning.Plan, dict[str, JSON]],
    options: ProbeOptions,
    where: tuple[int | None, str, str, int],
    notify: Callable[[ProbeEvent], None],
    control: tuple[threading.Event, Turn, Callable[..., tuple[dict[str, JSON], list[str]]]],
) -> tuple[dict[str, JSON], list[str]]:
    """One framework group's child, then the extensions given to run after it in that child
    (``what``: the group, the plan, those extensions; ``control``: the cancel flag, the child's
    turn, and how an extension gets a child of its own when this one never began it)."""
    group, plan, extensions = what
    cancel, turn, again = control

    def jobs() -> list[JSON]:
        mine = [planning.job(k, plan.companions.get(k, []), plan.options.get(k)) for k in group]
        return mine + [ext_planning.job(name, s) for name, s in extensions.items()]

    def forward(event: ProbeEvent) -> None:  # an extension's record as it will be judged
        if event.framework in extensions and isinstance(event.record, dict):
            if ext_planning.unstarted(event.record):
                return  # not its end: it is probed again, in a child of its own
            ext_planning.settle(event.record, extensions[event.framework])
        notify(event)

    names = (*group, *extensions)
    defer = deferral.deferred(plan.groups).get(group, ())
    records, errors = _probe_group(names, jobs, options, where, forward, cancel, turn, defer)
    if not extensions:
        return records, errors
    records, more = ext_planning.after_framework(records, extensions, again)
    return records, errors + more


def _probe_group(
    group: tuple[str, ...],
    jobs: Callable[[], list[JSON]],
    options: ProbeOptions,
    where: tuple[int | None, str, str, int],
    notify: Callable[[ProbeEvent], None],
    cancel: threading.Event,
    turn: Turn = UNGATED,
    defer: tuple[str, ...] = (),
) -> tuple[dict[str, JSON], list[str]]:
    """``defer``: the modules this child imports in passing that other children probe."""
    verdicts = deferral.Verdicts(where[1], group)
    try:
        return _gated_group(group, jobs, options, where, notify, cancel, turn, defer, verdicts)
    finally:
        verdicts.close()  # whatever happened: no child waits for a verdict that will not come
        turn.finished()  # whatever happened: its core, or its place in the order, is free


def _gated_group(
    group: tuple[str, ...],
    jobs: Callable[[], list[JSON]],
    options: ProbeOptions,
    where: tuple[int | None, str, str, int],
    notify: Callable[[ProbeEvent], None],
    cancel: threading.Event,
    turn: Turn,
    defer: tuple[str, ...],
    verdicts: deferral.Verdicts,
) -> tuple[dict[str, JSON], list[str]]:
    memory, workdir, lock, nice = where
    records = ChildRecords(list(group), workdir)
    try:
        settings: JSON = {
            "full": options.full,
            "compile_timeout_s": COMPILE_TIMEOUT_S,
            "lock_file": lock,
        }
        if defer:
            settings["defer"] = deferral.child_options(workdir, defer, options.timeout_s)
        args = {"workdir": workdir, "nice": nice, "options": settings, "jobs": jobs()}
        source = planning.harness_source()
    except OSError as exc:  # an installation missing its probe files
        for key in group:
            records.records[key].update(status="skip", reason=f"probe unavailable: {exc}")
        return records.records, [f"probe source unreadable: {exc}"]
    for key in group:
        notify(ProbeEvent("phase", key, "waiting for a free core"))
    if not turn.wait():  # Ctrl-C (or the static facts failed) before a core was free for it
        for name in records.finish(ChildOutcome(cancelled=True), memory):
            notify(ProbeEvent("end", name, record=records.records[name]))
        return records.records, []
    for key in group:
        notify(ProbeEvent("start", key, "starting" if key == group[0] else f"after {group[0]}"))

    def on_message(message: JSON) -> None:
        try:
            verdicts.feed(message)  # another child may be waiting on it
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
        env=planning.child_env(options.env, os.path.join(workdir, TEMP)),
        cwd=workdir,
        on_message=on_message,
        cancel=cancel,
        memory_limit_bytes=memory,
        on_spawn=turn.started,
    )
    for name in records.finish(outcome, memory):
        notify(ProbeEvent("end", name, record=records.records[name]))
    errors = []
    if outcome.bad_lines:
        errors.append(f"{'+'.join(group)} child: {outcome.bad_lines} unreadable channel line(s)")
    return records.records, errors
