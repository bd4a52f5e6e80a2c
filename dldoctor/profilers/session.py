"""One profiling session: open the GPUs, start the script, sample and collect until it ends."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from dldoctor.facts import reaper
from dldoctor.profilers import runner, tree
from dldoctor.profilers.runner import RunResult, Target

if TYPE_CHECKING:  # imported once the script is starting: none of them is needed to start it
    from dldoctor.facts.host import Host
    from dldoctor.facts.nvml import Nvml
    from dldoctor.profilers import gpu
    from dldoctor.profilers.collector import Collector
    from dldoctor.profilers.sampler import Sampler


@dataclass(frozen=True)
class Options:
    steps: int | None = None  # stop after this many complete steps
    duration_s: float | None = None  # stop this long after the start
    rate_hz: float = 10.0
    trace_path: Path | None = None
    forward_signals: bool = True  # the CLI forwards; tests calling in-process don't
    env: tuple[tuple[str, str], ...] = ()  # added to the script's environment (--tune trials)
    quiet: bool = False  # the script's stdout and stderr discarded (--tune trials)


@dataclass
class Session:
    target: Target
    options: Options
    created: str
    collector: Collector
    result: RunResult
    devices: list[gpu.Device] = field(default_factory=list)
    gpu_reason: str | None = None
    cores_available: float = 1.0
    sampler_info: dict[str, object] = field(default_factory=dict)
    trace_truncated: bool = False


def cores_available(host: Host) -> float:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cores: float = float(len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        cores = float(os.cpu_count() or 1)
    try:
        from dldoctor.facts.system_linux import cgroup_cpu_quota_cores

        quota = cgroup_cpu_quota_cores(host)
    except Exception:  # not Linux, or an unreadable cgroup tree: the affinity stands
        quota = None
    return min(cores, quota) if quota else cores


def run(
    target: Target,
    options: Options,
    host: Host | None = None,
    started: Callable[[], None] | None = None,
) -> Session:
    """Profile ``target``; raises OSError only if the script cannot be started at all.
    ``started()`` is called once the script runs (the caller's work to overlap with it).

    The script is started first: the collector and the trace writer are made once its
    interpreter has said hello, and NVML, the sampler and the host's facts once it has run
    for ``SETTLE_S`` more (not at all if it has ended by then), so none of them is part of
    the run's fixed cost."""
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    origin = time.perf_counter()
    # Opened before the start, so that a path that cannot be written is refused first.
    trace_file = (
        None if options.trace_path is None else options.trace_path.open("w", encoding="utf-8")
    )
    family = tree.open_tree()
    try:
        proc, read_fd, token = runner.start(
            target,
            origin,
            options.steps,
            options.duration_s,
            family,
            dict(options.env),
            options.quiet,
        )
    except OSError:
        if trace_file is not None:
            trace_file.close()
        if family is not None:
            family.close()
        raise
    result = RunResult(proc.pid, origin, origin, None)
    forwarder = runner.SignalForwarder(proc, result)
    if options.forward_signals:
        forwarder.install()
    try:
        _until_running(proc, read_fd)
        from dldoctor.profilers.collector import Collector
        from dldoctor.profilers.trace import TraceWriter
    except BaseException:  # a broken install: never leave the script behind, unobserved
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        forwarder.uninstall()
        raise
    trace = None if trace_file is None else TraceWriter(trace_file, origin)
    collector = Collector(origin, 0, trace)  # its GPUs are added once NVML has opened them
    collector.root_pid = proc.pid
    if trace is not None:
        trace.process_name(proc.pid, target.describe())
    child_done = runner.Done()
    fds = [read_fd] + ([family.read_fd] if family is not None else [])
    reader = threading.Thread(
        target=runner.read_events, args=(fds, collector, child_done), daemon=True
    )
    reader.start()
    deadline = None if options.duration_s is None else origin + options.duration_s
    nv: Nvml | None = None
    sampler: Sampler | None = None
    devices: list[gpu.Device] = []
    reason: str | None = None
    try:
        if reaper.exits_within(proc, SETTLE_S, runner.POLL_S):
            reason = SETTLE_REASON  # nothing to sample: NVML, psutil and the report's prewarm
        else:  # psutil and NVML: while the script imports
            from dldoctor.facts.host import Host
            from dldoctor.facts.nvml import Nvml
            from dldoctor.profilers import gpu
            from dldoctor.profilers.sampler import Sampler

            host = host or Host()
            nv = Nvml.for_host(host)
            devices, reason = gpu.open_devices(nv) if nv.ok else ([], nv.error or nv.status)
            collector.add_gpus(len(devices))
            sampler = Sampler(collector, proc.pid, options.rate_hz, nv, devices)
            sampler.start()
            if started is not None:
                started()
        runner.wait(proc, result, collector, deadline, token)
    except BaseException:  # dldoctor itself interrupted or broken: never leave the script behind
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        reaper.kill_tree(proc.pid, token)
        proc.wait()
        result.returncode = proc.returncode
        result.error = "dldoctor was interrupted before the script ended"
    finally:
        result.t_end = time.perf_counter()
        if family is not None:
            family.release()  # its FIFO then reads EOF once no descendant holds it
        child_done.set()
        if sampler is not None:
            sampler.stop()
        reader.join(timeout=5)
        child_done.close()
        if family is not None:
            family.close()
        forwarder.uninstall()
        if trace is not None:
            trace.close()
        if nv is not None:
            nv.shutdown()
    if host is None:  # the script ended before sampling began
        from dldoctor.facts.host import Host

        host = Host()
    return Session(
        target,
        options,
        created,
        collector,
        result,
        devices,
        reason if not devices else None,
        cores_available(host),
        {**(sampler.describe() if sampler is not None else {}), **_own_cost()},
        trace.truncated if trace is not None else False,
    )


HELLO_WAIT_S = 2.0
# What only a run that lasts needs (NVML and the GPUs opened, psutil, the sampler's thread, the
# report's modules imported ahead) starts once the script has run this long after its hello: a
# script that ends sooner (a typo's traceback, --help, an import check) would have given the
# 10 Hz sampler nothing (its first sample is only the baseline of the next), and that set-up,
# ~40 ms of CPU here and NVML's init on a GPU machine, was then paid in series with its exit.
SETTLE_S = 0.1
SETTLE_REASON = f"the script ended within {SETTLE_S:g} s of its start, before sampling began"


def _until_running(proc: subprocess.Popen[bytes], read_fd: int) -> None:
    """Wait (idle) until the script's interpreter has started and said hello (its first
    event is in the pipe, which holds what follows until the reader starts), so that
    dldoctor's own set-up does not compete with its start for the CPUs; at most
    ``HELLO_WAIT_S``, and not past its exit (the pipe then reads EOF)."""
    deadline = time.perf_counter() + HELLO_WAIT_S
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 0.05)
        if ready or reaper.exited(proc):
            return


def _own_cost() -> dict[str, float | int | None]:
    """What profiling cost this process (on top of the script's own): peak RSS, CPU seconds."""
    try:
        import resource
    except ImportError:  # Windows
        return {"dldoctor_peak_rss_bytes": None, "dldoctor_cpu_s": None}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024  # KiB on Linux
    return {
        "dldoctor_peak_rss_bytes": int(peak),
        "dldoctor_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }
