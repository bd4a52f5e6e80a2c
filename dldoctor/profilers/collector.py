"""What dldoctor keeps while the script runs: bounded aggregates fed by events and samples.

Two threads feed one ``Collector`` under its lock: the channel reader (the child's events) and
the sampler (CPU, memory, GPU). Steps are accounted twice, once from batch fetches ("data") and
once from explicit marks (``dldoctor.step()``, Keras batches); the analysis picks one.
"""

from __future__ import annotations

import threading
from typing import Any

from dldoctor.profilers.aggregate import Stats, Timeline
from dldoctor.profilers.gradients import GradientNorms
from dldoctor.profilers.protocol import Event, parse
from dldoctor.profilers.trace import TraceWriter

# Timeline fields (per-bucket sums). WAIT is unused there: data wait is kept per process.
WAIT, BATCHES, MARKS, CPU_N, MAIN_CORES, MAIN_THREAD, WORKER_CORES, WORKERS = range(8)
TREE_CORES, MAIN_THREAD_N = 8, 9
GPU_BASE = 10  # then per device: utilisation sum (%), sample count, power sum (W), power count
GPU_FIELDS = 4
MAX_PROCESSES = 128  # processes that sent events (ranks, forks, spawned workers); the rest
# are counted, not kept
MAX_LOADERS = 64
BACKGROUND, TRAINING, EVALUATION = 0, 1, 2  # where a batch was fetched (protocol's ``main``)
# A process's own timeline (``ProcessRecord.timeline``): its training data wait, and its CPU
# as sampled from outside. Kept apart so a job of several ranks is never shown summed (two
# ranks each waiting 60 % of the time are not a job waiting 120 %).
PROC_WAIT, PROC_CORES, PROC_CPU_N = range(3)


def _where(text: str) -> int:
    return TRAINING if text == "1" else EVALUATION if text == "2" else BACKGROUND


class Steps:
    """Steps delimited by boundaries; data waits inside an open step count towards it.

    The first step of each pass (after the start or an end of iteration) is also summed apart:
    its batch waits for worker start-up and a first prefetch, a cost paid once per pass.
    """

    def __init__(self) -> None:
        self.open_start: float | None = None
        self.open_first = False
        self.pending_wait = 0.0
        self.count = 0
        self.time_s = 0.0
        self.wait_s = 0.0
        self.first_count = 0
        self.first_time_s = 0.0
        self.first_wait_s = 0.0
        self.durations = Stats()
        self.waits = Stats()
        self.first_start: float | None = None
        self.last_end: float | None = None
        # Framework phases inside steps (forward, backward, ...), seconds by kind.
        self.pending_phases: dict[str, float] = {}
        self.phase_s: dict[str, float] = {}
        self.first_phase_s: dict[str, float] = {}

    def boundary(self, t: float) -> tuple[float, float] | None:
        first = self.open_start is None
        closed = self.end(t)
        self.open_start, self.open_first = t, first
        return closed

    def end(self, t: float) -> tuple[float, float] | None:
        """Close the open step at ``t``: returns (start, wait) of the step closed, if any."""
        start, self.open_start = self.open_start, None
        wait, self.pending_wait = self.pending_wait, 0.0
        phases, self.pending_phases = self.pending_phases, {}
        if start is None or t < start:
            return None
        for kind, seconds in phases.items():
            self.phase_s[kind] = self.phase_s.get(kind, 0.0) + seconds
            if self.open_first:
                self.first_phase_s[kind] = self.first_phase_s.get(kind, 0.0) + seconds
        duration = t - start
        wait = min(wait, duration)
        self.count += 1
        self.time_s += duration
        self.wait_s += wait
        if self.open_first:
            self.first_count += 1
            self.first_time_s += duration
            self.first_wait_s += wait
        self.durations.add(duration)
        self.waits.add(wait)
        self.first_start = start if self.first_start is None else self.first_start
        self.last_end = t
        return start, wait

    def wait(self, t0: float, t1: float) -> None:
        if self.open_start is not None and t1 > self.open_start:
            self.pending_wait += t1 - max(t0, self.open_start)

    def phase(self, kind: str, t0: float, t1: float) -> None:
        if self.open_start is not None and t1 > self.open_start and len(kind) == 1:
            seconds = t1 - max(t0, self.open_start)
            self.pending_phases[kind] = self.pending_phases.get(kind, 0.0) + seconds


class ProcessRecord:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.data = Steps()  # from batch fetches in the main thread
        self.marks = Steps()  # from explicit marks
        self.mark_sources: set[str] = set()
        self.hello: dict[str, Any] | None = None
        self.exit: dict[str, Any] | None = None
        self.stop: dict[str, Any] | None = None
        self.rank: dict[str, Any] | None = None  # from init_process_group (``R``)
        self.frames: dict[str, Any] | None = None  # the main-thread sampler's tables (``S``)
        self.nonfinite: dict[str, Any] | None = None  # the first NaN/Inf loss (``N``)
        self.gradients: GradientNorms | None = None  # gradient norms sampled (``A``)
        self.evaluation = Steps()  # batches fetched with gradients off: validation, not steps
        self.iterator_made: tuple[float, float] | None = None  # iter(loader), not yet served
        # CPU sampled while the process was inside a step: [cores sum, n, thread sum, n].
        self.cpu = [0.0, 0, 0.0, 0]
        self.timeline: Timeline | None = None  # made at its first wait or CPU sample

    def stepping(self) -> bool:
        return self.data.open_start is not None or self.marks.open_start is not None

    def has_steps(self) -> bool:
        return self.data.count > 0 or self.marks.count > 0 or self.stepping()


class LoaderRecord:
    def __init__(self, pid: int, info: dict[str, Any]) -> None:
        self.pid = pid
        self.info = info
        self.waits = Stats()  # every fetch, any thread
        self.first_waits = Stats()  # the first fetch of each pass (worker start-up, prefetch)
        self.background_batches = 0  # fetched outside the main thread
        self.evaluation_batches = 0  # fetched in the main thread with gradients off
        self.iterator_waits = Stats()  # making an iterator: iter(loader), worker start-up
        self.made = Stats()  # making one batch where it is made (a worker, or the main thread)
        self.collate_s = 0.0  # of which in collate_fn
        self.epochs = 0
        self.fresh = True
        self.worker_pids: list[int] = []
        self.worker_sets = 0


class Collector:
    def __init__(self, origin: float, gpus: int = 0, trace: TraceWriter | None = None) -> None:
        self.origin = origin
        self.gpus = gpus
        self.trace = trace
        self.lock = threading.Lock()
        self.timeline = Timeline(origin, GPU_BASE + GPU_FIELDS * gpus)
        self.processes: dict[int, ProcessRecord] = {}
        self.dropped_processes = 0
        self.loaders: dict[tuple[int, int], LoaderRecord] = {}
        self.frameworks: list[dict[str, Any]] = []
        self.bad_lines = 0
        self.events = 0
        self.last_event_t: float | None = None
        # Whole-run extremes and per-sample statistics kept outside the timeline.
        self.peaks: dict[str, float] = {}
        self.gpu_process_memory: dict[int, float] = {}  # device -> peak bytes used by the tree
        self.gpu_devices_used: set[int] = set()
        self.gpu_process_util: dict[int, list[float]] = {}  # device -> [sum of SM %, samples]
        self.samples = 0
        self.root_pid: int | None = None  # the script's own process, once started
        self.worker_of: dict[int, tuple[int, int]] = {}  # worker pid -> its loader's key
        self.hello = threading.Event()  # the script's own process said hello: it runs

    def add_gpus(self, gpus: int) -> None:
        """The GPUs NVML opened (while the script was starting): their timeline fields."""
        with self.lock:
            self.gpus = gpus
            self.timeline.widen(GPU_BASE + GPU_FIELDS * gpus)

    # -- events -----------------------------------------------------------------------------

    def feed(self, line: str) -> None:
        if line.startswith("D "):  # a batch: nearly every line, so parsed here directly
            parts = line.split(" ")
            if len(parts) == 6:
                try:
                    pid, loader = int(parts[1]), int(parts[2])
                    t0, t1 = float(parts[3]), float(parts[4])
                except ValueError:
                    pass
                else:
                    with self.lock:
                        self.events += 1
                        proc = self._process(pid)
                        if proc is not None:
                            self._batch(proc, loader, t0, t1, _where(parts[5]))
                    return
        event = parse(line)
        with self.lock:
            if event is None:
                self.bad_lines += 1
                return
            self.events += 1
            try:
                self._dispatch(event)
            except ValueError:  # a field that is no number (a hostile or cut line)
                self.bad_lines += 1

    def _process(self, pid: int) -> ProcessRecord | None:
        record = self.processes.get(pid)
        if record is None:
            if len(self.processes) >= MAX_PROCESSES:
                self.dropped_processes += 1
                return None
            record = self.processes[pid] = ProcessRecord(pid)
        return record

    def _dispatch(self, event: Event) -> None:
        if event.kind == "G":  # from loader workers, many and short-lived: no process record
            self._made(event.pid, event.fields)
            return
        proc = self._process(event.pid)
        if proc is None:
            return
        kind, f = event.kind, event.fields
        if kind == "D" and len(f) == 4:
            self._batch(proc, int(f[0]), float(f[1]), float(f[2]), _where(f[3]))
        elif kind == "I" and len(f) == 4:
            self._iterator(proc, int(f[0]), float(f[1]), float(f[2]), _where(f[3]))
        elif kind == "E" and len(f) == 3:
            loader = self.loaders.get((proc.pid, int(f[0])))
            if loader is not None:
                loader.epochs += 1
                loader.fresh = True
            where = _where(f[2])
            if where == TRAINING:
                self._close(proc, proc.data, float(f[1]), boundary=False)
            elif where == EVALUATION:
                proc.evaluation.end(float(f[1]))
        elif kind == "B" and len(f) == 2:
            proc.mark_sources.add(f[1])
            t = float(f[0])
            self.timeline.add(t, MARKS, 1)
            self._close(proc, proc.marks, t, boundary=True)
        elif kind == "Z" and f:
            self._close(proc, proc.marks, float(f[0]), boundary=False)
        elif kind == "W" and len(f) == 2:
            loader = self.loaders.get((proc.pid, int(f[0])))
            if loader is not None:
                loader.worker_pids = [int(p) for p in f[1].split(",") if p.isdigit()][:256]
                loader.worker_sets += 1
                for worker in loader.worker_pids:
                    if len(self.worker_of) < 4096:
                        self.worker_of[worker] = (proc.pid, int(f[0]))
                if self.trace is not None:  # one track per loader worker
                    for index, worker in enumerate(loader.worker_pids[:64]):
                        name = f"loader {f[0]} worker {index} (of pid {proc.pid})"
                        self.trace.process_name(worker, name)
        elif kind == "L":
            self._loader(proc, event.payload)
        elif kind == "F" and len(self.frameworks) < 32:
            self.frameworks.append({"pid": proc.pid, **event.payload})
        elif kind == "H":
            proc.hello = event.payload
            if proc.pid == self.root_pid:
                self.hello.set()
            if self.trace is not None and proc.pid != self.root_pid:  # the script's: named
                argv = " ".join(str(a) for a in (proc.hello.get("argv") or [])[:8])
                self.trace.process_name(proc.pid, f"python {argv}"[:120])
        elif kind == "P" and len(f) == 3:
            t0, t1 = float(f[1]), float(f[2])
            for steps in (proc.data, proc.marks):
                steps.phase(f[0], t0, t1)
            if self.trace is not None:
                self.trace.phase(proc.pid, f[0], t0, t1)
        elif kind == "S":
            proc.frames = event.payload
        elif kind == "N" and proc.nonfinite is None:
            # The step it happened in: the one open now, in either way of counting steps.
            proc.nonfinite = {
                "value": str(event.payload.get("value"))[:20],
                "backward_calls": event.payload.get("backward_calls"),
                "read_every": _count(event.payload.get("read_every")),
                "batch_step": proc.data.count + 1,
                "marked_step": proc.marks.count + 1,
            }
        elif kind == "A" and len(f) == 5:
            if proc.gradients is None:
                proc.gradients = GradientNorms()
            open_step = (proc.data.count + 1, proc.marks.count + 1)  # the step open now
            proc.gradients.add(open_step, int(f[1]), float(f[2]), float(f[3]), f[4] == "1")
        elif kind == "R":
            proc.rank = event.payload
            if self.trace is not None and isinstance(proc.rank.get("rank"), int):
                self.trace.process_name(proc.pid, f"rank {proc.rank['rank']} (pid {proc.pid})")
        elif kind == "Q":
            proc.stop = event.payload
        elif kind == "X":
            proc.exit = event.payload

    def _made(self, pid: int, f: tuple[str, ...]) -> None:
        if len(f) != 4:
            return
        key = (pid, int(f[0])) if f[0] != "0" else self.worker_of.get(pid)
        loader = self.loaders.get(key) if key is not None else None
        if loader is not None:
            loader.made.add(float(f[2]) - float(f[1]))
            loader.collate_s += max(float(f[3]), 0.0)

    def _loader(self, proc: ProcessRecord, info: dict[str, Any]) -> None:
        loader_id = info.get("id")
        if isinstance(loader_id, int) and len(self.loaders) < MAX_LOADERS:
            self.loaders[(proc.pid, loader_id)] = LoaderRecord(proc.pid, info)

    def _batch(self, proc: ProcessRecord, loader_id: int, t0: float, t1: float, where: int) -> None:
        self.last_event_t = t1
        loader = self.loaders.get((proc.pid, loader_id))
        made = proc.iterator_made if where == TRAINING else None
        proc.iterator_made = None
        if loader is not None:
            # The pass's first batch waits for the iterator's making too, if timed (worker
            # start-up): in its wait, as in the step it starts, so the first batches' waits are
            # a part of the loader's.
            made_s = made[1] - made[0] if made and loader.fresh else 0.0
            loader.waits.add(t1 - t0 + made_s)
            if loader.fresh:
                loader.first_waits.add(t1 - t0 + made_s)
                loader.fresh = False
            if where == BACKGROUND:
                loader.background_batches += 1
            elif where == EVALUATION:
                loader.evaluation_batches += 1
        if where == BACKGROUND:
            return
        if where == EVALUATION:
            # A validation loop inside training: the open training step ends where it starts.
            self._close(proc, proc.data, t0, boundary=False)
            proc.evaluation.boundary(t0)
            proc.evaluation.wait(t0, t1)
            return
        start = made[0] if made is not None and made[1] <= t0 else t0
        self._close(proc, proc.data, start, boundary=True)
        own = self._timeline_of(proc)
        if made is not None:  # iter(loader) starts the step whose first batch it serves
            proc.data.wait(made[0], made[1])
            own.add_interval(made[0], made[1], PROC_WAIT)
        for steps in (proc.data, proc.marks):
            steps.wait(t0, t1)
        own.add_interval(t0, t1, PROC_WAIT)
        self.timeline.add(t0, BATCHES, 1)
        if self.trace is not None:
            self.trace.data_wait(proc.pid, loader_id, t0, t1)

    def _timeline_of(self, proc: ProcessRecord) -> Timeline:
        if proc.timeline is None:
            proc.timeline = Timeline(self.origin, 3)
        return proc.timeline

    def _iterator(
        self, proc: ProcessRecord, loader_id: int, t0: float, t1: float, where: int
    ) -> None:
        loader = self.loaders.get((proc.pid, loader_id))
        if loader is not None:
            loader.iterator_waits.add(t1 - t0)
        if where != TRAINING:
            return
        proc.iterator_made = (t0, t1)
        proc.marks.wait(t0, t1)  # inside a step() step: it is that step's waiting
        if self.trace is not None:
            self.trace.data_wait(proc.pid, loader_id, t0, t1, "make iterator")

    def _close(self, proc: ProcessRecord, steps: Steps, t: float, boundary: bool) -> None:
        closed = steps.boundary(t) if boundary else steps.end(t)
        self.last_event_t = t
        if closed is not None and self.trace is not None:
            start, wait = closed
            source = "batches" if steps is proc.data else "marks"
            if source == "marks" or not proc.mark_sources:
                self.trace.step(proc.pid, steps.count, start, t, wait)

    # -- samples ----------------------------------------------------------------------------

    def sample_cpu(self, t: float, values: dict[str, float]) -> None:
        """One CPU sample: cores used by the main process, its main thread, workers, the tree."""
        with self.lock:
            self.samples += 1
            tl = self.timeline
            tl.add(t, CPU_N, 1)
            tl.add(t, MAIN_CORES, values.get("main_cores", 0.0))
            if "main_thread" in values:  # Linux only, and not in a thread's first sample
                tl.add(t, MAIN_THREAD, values["main_thread"])
                tl.add(t, MAIN_THREAD_N, 1)
            tl.add(t, WORKER_CORES, values.get("worker_cores", 0.0))
            tl.add(t, WORKERS, values.get("workers", 0.0))
            tl.add(t, TREE_CORES, values.get("tree_cores", 0.0))
            for key in ("main_rss_bytes", "tree_rss_bytes", "host_used_bytes"):
                if key in values:
                    self.peaks[key] = max(self.peaks.get(key, 0.0), values[key])
        if self.trace is not None:
            cores = {k: round(values.get(k, 0.0), 3) for k in ("main_cores", "worker_cores")}
            self.trace.counter("CPU (cores)", t, cores)

    def sample_gpu(self, t: float, device: int, util: float | None, power_w: float | None) -> None:
        if device >= self.gpus:
            return
        base = GPU_BASE + GPU_FIELDS * device
        with self.lock:
            if util is not None:
                self.timeline.add(t, base, util)
                self.timeline.add(t, base + 1, 1)
            if power_w is not None:
                self.timeline.add(t, base + 2, power_w)
                self.timeline.add(t, base + 3, 1)
        if self.trace is not None and util is not None:
            self.trace.counter(f"GPU {device} utilisation (%)", t, {"util": util})

    def gpu_memory(self, device: int, used_bytes: float, process_bytes: float | None) -> None:
        with self.lock:
            key = f"gpu{device}_used_bytes"
            self.peaks[key] = max(self.peaks.get(key, 0.0), used_bytes)
            if process_bytes is not None:
                self.gpu_devices_used.add(device)
                previous = self.gpu_process_memory.get(device, 0.0)
                self.gpu_process_memory[device] = max(previous, process_bytes)

    def gpu_process_sm(self, device: int, sm_percent: float) -> None:
        with self.lock:
            total = self.gpu_process_util.setdefault(device, [0.0, 0.0])
            total[0] += sm_percent
            total[1] += 1

    def sample_process(self, pid: int, cores: float, thread: float | None, t: float) -> None:
        """One CPU sample of a process that steps (each rank), kept while it is in a step."""
        if self.trace is not None:
            self.trace.counter("CPU (cores)", t, {"cores": round(cores, 3)}, pid)
        with self.lock:
            record = self.processes.get(pid)
            if record is None:
                return
            own = self._timeline_of(record)
            own.add(t, PROC_CORES, cores)
            own.add(t, PROC_CPU_N, 1)
            if not record.stepping():
                return
            record.cpu[0] += cores
            record.cpu[1] += 1
            if thread is not None:
                record.cpu[2] += thread
                record.cpu[3] += 1

    def sample_worker(self, pid: int, cores: float, t: float) -> None:
        """A loader worker's CPU, on its own trace track (the analysis uses the totals)."""
        if self.trace is not None:
            self.trace.counter("CPU (cores)", t, {"cores": round(cores, 3)}, pid)

    def step_pids(self) -> set[int]:
        with self.lock:
            return {pid for pid, record in self.processes.items() if record.has_steps()}

    def worker_pids(self) -> set[int]:
        with self.lock:
            return {pid for loader in self.loaders.values() for pid in loader.worker_pids}

    def main_process(self, default_pid: int) -> ProcessRecord | None:
        """The process that trained: the one with the most steps (the script's own by default)."""
        with self.lock:
            records = list(self.processes.values())
        if not records:
            return None

        def steps(record: ProcessRecord) -> tuple[int, bool]:
            return (max(record.data.count, record.marks.count), record.pid == default_pid)

        return max(records, key=steps)


def _count(value: object) -> int | None:
    """A positive count from an event (untrusted), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 31:
        return value
    return None
