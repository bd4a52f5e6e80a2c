"""``--trace FILE``: the timeline in Chrome's trace-event format (Perfetto, chrome://tracing).

Written as the run goes, in the JSON *array* form, whose closing bracket is optional: a file
cut short by a crash still opens. Memory stays constant; the file is capped at ``max_events``
events (a note in the trace says when the cap was hit; counters keep going).
"""

from __future__ import annotations

import json
import threading
from typing import IO, Any

from dldoctor.facts.withhold import withhold

SAMPLER_PID = 0  # the pseudo-process that carries dldoctor's own samples (GPU, CPU, memory)
TID_DATA, TID_STEPS, TID_PHASES = 1, 2, 3
_PHASES = {
    "f": "forward",
    "b": "backward",
    "o": "optimizer step",
    "c": "copy to device",
    "g": "compiled step (tf.function)",
}


class TraceWriter:
    def __init__(self, stream: IO[str], origin: float, max_events: int = 500_000) -> None:
        self.stream = stream
        self.origin = origin
        self.max_events = max_events
        self.events = 0
        self.truncated = False
        self._lock = threading.Lock()
        self._named: set[int] = set()
        self._separator = "[\n"
        self._write(
            {
                "name": "process_name",
                "ph": "M",
                "pid": SAMPLER_PID,
                "tid": 0,
                "args": {"name": "dldoctor samples"},
            }
        )
        self._write(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": SAMPLER_PID,
                "tid": 0,
                "args": {"name": "CPU and GPU counters"},
            }
        )

    def _us(self, t: float) -> float:
        return round((t - self.origin) * 1e6, 1)

    def _write(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self.stream.closed:
                return
            self.stream.write(self._separator + json.dumps(event, separators=(",", ":")))
            self._separator = ",\n"

    def _detail(self, event: dict[str, Any], pid: int) -> None:
        if self.events >= self.max_events:
            if not self.truncated:
                self.truncated = True
                note = {"name": "dldoctor: trace event cap reached", "ph": "i", "s": "g"}
                self._write({**note, "ts": event["ts"], "pid": pid, "tid": TID_DATA})
            return
        self.events += 1
        if pid not in self._named:
            self._named.add(pid)
            tracks = ((TID_DATA, "data wait"), (TID_STEPS, "steps"), (TID_PHASES, "step phases"))
            for tid, name in tracks:
                self._write(
                    {
                        "name": "thread_name",
                        "ph": "M",
                        "pid": pid,
                        "tid": tid,
                        "args": {"name": name},
                    }
                )
        self._write(event)

    def process_name(self, pid: int, name: str) -> None:
        """Name ``pid``'s track (once per name: a rank is named again when its rank is known)."""
        shown = withhold(name)[:200]  # a command line: no credentials in the trace file
        event = {"name": "process_name", "ph": "M", "pid": pid, "tid": 0}
        self._write({**event, "args": {"name": shown}})

    def data_wait(
        self, pid: int, loader_id: int, t0: float, t1: float, name: str = "wait for batch"
    ) -> None:
        event = {"name": name, "cat": "data", "ph": "X", "ts": self._us(t0)}
        event.update(dur=self._us(t1) - self._us(t0), pid=pid, tid=TID_DATA)
        event["args"] = {"loader": loader_id}
        self._detail(event, pid)

    def step(self, pid: int, number: int, t0: float, t1: float, wait_s: float) -> None:
        event = {"name": "step", "cat": "step", "ph": "X", "ts": self._us(t0)}
        event.update(dur=self._us(t1) - self._us(t0), pid=pid, tid=TID_STEPS)
        event["args"] = {"step": number, "data_wait_ms": round(wait_s * 1e3, 3)}
        self._detail(event, pid)

    def phase(self, pid: int, kind: str, t0: float, t1: float) -> None:
        name = _PHASES.get(kind, "phase")
        event = {"name": name, "cat": "step", "ph": "X", "ts": self._us(t0)}
        event.update(dur=self._us(t1) - self._us(t0), pid=pid, tid=TID_PHASES)
        self._detail(event, pid)

    def counter(
        self, name: str, t: float, values: dict[str, float], pid: int = SAMPLER_PID
    ) -> None:
        """A counter track: dldoctor's samples, or one process's own (a rank, a worker)."""
        event = {"name": name, "ph": "C", "ts": self._us(t), "pid": pid, "tid": 0}
        self._write({**event, "args": values})

    def close(self) -> None:
        with self._lock:
            if not self.stream.closed:
                self.stream.write("\n]\n")
                self.stream.close()
