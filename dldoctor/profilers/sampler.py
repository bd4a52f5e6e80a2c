"""Sampling from outside the script: CPU of its process tree, memory, and GPUs through NVML.

One daemon thread in the dldoctor process. CPU is read as deltas of each process's CPU time
(``/proc/PID/stat`` through psutil), and the main thread's busy time (running or waiting for a
CPU) from ``/proc/PID/task/PID/schedstat`` on Linux, so a sample costs a few file reads. The process tree is rescanned once a second;
DataLoader workers are the pids the child announced, not guesses from command lines.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

import psutil  # type: ignore[import-untyped]

from dldoctor.facts import nvml
from dldoctor.facts.nvml import NotAvailable, Nvml
from dldoctor.profilers import gpu
from dldoctor.profilers.collector import Collector

_SLOW_EVERY_S = 1.0  # tree rescan, memory, per-process GPU figures
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_busy_s(pid: int, tid: int) -> float | None:
    """Seconds one thread has been running or runnable (waiting only for a CPU), Linux only.

    From ``/proc/PID/task/TID/schedstat`` (run and run-queue wait, ns): a thread that computes
    all the time counts as busy even when other processes keep it off the CPU. Falls back to
    CPU time from ``stat`` (10 ms ticks) where schedstat is missing. None elsewhere.
    """
    base = f"/proc/{pid}/task/{tid}"
    try:
        with open(f"{base}/schedstat", "rb") as f:
            run_ns, wait_ns = f.read().split()[:2]
        return (int(run_ns) + int(wait_ns)) / 1e9
    except (OSError, ValueError):
        pass
    try:
        with open(f"{base}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int, limit: int = 4096) -> list[int] | None:
    """The process tree under ``pid`` from ``/proc/PID/task/TID/children`` (Linux 3.5+): a few
    reads instead of psutil's scan of every process. None where the files don't exist."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < limit:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            if parent == pid:
                return None
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                if parent == pid and tid == str(pid):
                    return None
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


class Sampler:
    def __init__(
        self,
        collector: Collector,
        root_pid: int,
        rate_hz: float,
        nv: Nvml | None = None,
        devices: list[gpu.Device] | None = None,
    ) -> None:
        self.collector = collector
        self.root_pid = root_pid
        self.interval = 1.0 / rate_hz
        self.nv = nv
        self.devices = devices or []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dldoctor-sampler", daemon=True)
        self._procs: dict[int, psutil.Process] = {}
        self._last_cpu: dict[int, tuple[float, float]] = {}  # pid -> (t, cpu seconds)
        self._last_thread: tuple[float, float] | None = None
        self._last_threads: dict[int, tuple[float, float]] = {}  # rank pid -> (t, busy s)
        self._next_slow = 0.0
        self.gpu_process_errors: dict[int, str] = {}
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                self.sample(started)
            except Exception:  # a sampler bug must not end the profile: count it, go on
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.perf_counter() - started)))

    def sample(self, t: float) -> None:
        slow = t >= self._next_slow
        if slow:
            self._next_slow = t + _SLOW_EVERY_S
            self._rescan()
        values = self._cpu(t)
        if slow:
            values.update(self._memory())
        if values:
            self.collector.sample_cpu(t, values)
        for device in self.devices:
            self._gpu(t, device, slow)

    # -- CPU and memory ---------------------------------------------------------------------

    def _rescan(self) -> None:
        try:
            root = self._procs.get(self.root_pid) or psutil.Process(self.root_pid)
            pids = descendants(self.root_pid)
            if pids is None:  # no /proc/PID/task/TID/children: psutil scans all of /proc
                children = root.children(recursive=True)
            else:
                children = [self._procs.get(pid) or psutil.Process(pid) for pid in pids]
        except psutil.Error:
            return
        alive = {self.root_pid: root, **{c.pid: c for c in children}}
        self._procs = {pid: self._procs.get(pid, proc) for pid, proc in alive.items()}
        self._last_cpu = {pid: v for pid, v in self._last_cpu.items() if pid in alive}

    def _delta(self, pid: int, t: float, cpu_s: float) -> float | None:
        previous = self._last_cpu.get(pid)
        self._last_cpu[pid] = (t, cpu_s)
        if previous is None or t <= previous[0]:
            return None
        return max(0.0, (cpu_s - previous[1]) / (t - previous[0]))

    def _cpu(self, t: float) -> dict[str, float]:
        workers = self.collector.worker_pids()
        ranks = self.collector.step_pids()  # processes that step: each rank of a job
        values: dict[str, float] = {}
        tree = worker_cores = 0.0
        worker_count = 0
        for pid, proc in list(self._procs.items()):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                self._procs.pop(pid, None)
                continue
            cores = self._delta(pid, t, times.user + times.system)
            if cores is None:
                continue
            tree += cores
            if pid in ranks:
                self.collector.sample_process(pid, cores, self._thread_busy(pid, t), t)
            if pid == self.root_pid:
                values["main_cores"] = cores
            elif pid in workers:
                worker_cores += cores
                worker_count += 1
                self.collector.sample_worker(pid, cores, t)
        if "main_cores" not in values:
            return {}  # the first sample, or the script has exited
        values.update(tree_cores=tree, worker_cores=worker_cores, workers=worker_count)
        thread_s = thread_busy_s(self.root_pid, self.root_pid)
        if thread_s is not None:
            if self._last_thread is not None and t > self._last_thread[0]:
                busy = (thread_s - self._last_thread[1]) / (t - self._last_thread[0])
                values["main_thread"] = min(max(busy, 0.0), 1.0)
            self._last_thread = (t, thread_s)
        return values

    def _thread_busy(self, pid: int, t: float) -> float | None:
        """The share of the last interval the main thread of ``pid`` was busy on a CPU."""
        busy_s = thread_busy_s(pid, pid)
        if busy_s is None:
            return None
        last = self._last_threads.get(pid)
        self._last_threads[pid] = (t, busy_s)
        if last is None or t <= last[0]:
            return None
        return min(max((busy_s - last[1]) / (t - last[0]), 0.0), 1.0)

    def _memory(self) -> dict[str, float]:
        values: dict[str, float] = {}
        total = 0
        for pid, proc in list(self._procs.items()):
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss
                total += rss
                if pid == self.root_pid:
                    values["main_rss_bytes"] = rss
        values["tree_rss_bytes"] = total
        with contextlib.suppress(Exception):
            vm = psutil.virtual_memory()
            values["host_used_bytes"] = vm.total - vm.available
        return values

    # -- GPUs -------------------------------------------------------------------------------

    def _gpu(self, t: float, device: gpu.Device, slow: bool) -> None:
        assert self.nv is not None
        util = nvml.utilization_percent(self.nv, device.handle)
        power = nvml.power_draw_w(self.nv, device.handle)
        self.collector.sample_gpu(
            t,
            device.index,
            None if isinstance(util, NotAvailable) else util[0],
            None if isinstance(power, NotAvailable) else power,
        )
        if not slow:
            return
        memory = nvml.memory_bytes(self.nv, device.handle)
        pids = set(self._procs)
        per_process = gpu.process_memory_bytes(self.nv, device.handle)
        mine: float | None = None
        if isinstance(per_process, NotAvailable):
            self.gpu_process_errors.setdefault(device.index, per_process.reason)
        elif pids & set(per_process):
            mine = float(sum(b for pid, b in per_process.items() if pid in pids))
        if not isinstance(memory, NotAvailable):
            self.collector.gpu_memory(device.index, float(memory[1]), mine)
        sm = gpu.process_sm_percent(self.nv, device)
        if not isinstance(sm, NotAvailable):
            ours = [v for pid, v in sm.items() if pid in pids]
            if ours:
                self.collector.gpu_process_sm(device.index, sum(ours))

    def describe(self) -> dict[str, Any]:
        return {"errors": self.errors, "gpu_process_errors": dict(self.gpu_process_errors)}
