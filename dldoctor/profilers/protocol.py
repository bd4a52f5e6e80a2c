"""The event lines the profiled child writes to dldoctor over its private pipe (stdlib only).

One event per line, written with a single ``write()`` of less than ``PIPE_BUF`` bytes so lines
from forked processes sharing the pipe never interleave. Times are ``time.perf_counter()``
seconds: CLOCK_MONOTONIC on Linux (mach time on macOS), the same clock in every process, so the
parent's samples and the child's events share one time axis. Every line starts with its kind
and the writer's pid:

=====  =====================================  ==============================================
kind   fields after the pid                   meaning
=====  =====================================  ==============================================
``H``  JSON                                   hello: the child started (python, main thread)
``F``  JSON                                   a framework was patched (or failed to be)
``L``  JSON                                   a data loader was built: config, site, pipeline
``W``  loader_id pids                         loader worker processes (comma-separated pids)
``D``  loader_id t0 t1 main                   one batch fetched: waited from t0 to t1
``I``  loader_id t0 t1 main                   an iterator was made (``iter(loader)``)
``G``  loader_id t0 t1 collate_s              a batch made here (a worker: loader 0) in
                                             [t0, t1], collate_fn taking collate_s of it
``E``  loader_id t main                       the iterator was exhausted (end of epoch) at t
``B``  t source                               an explicit step boundary (``s`` step(), ``k`` Keras)
``Z``  t                                      explicit steps paused (Keras epoch end)
``P``  kind t0 t1                             a framework phase in the main thread (``f``
                                             forward, ``b`` backward, ``o`` optimizer step,
                                             ``c`` copy to the device)
``N``  JSON                                   the first NaN/Inf loss seen at a backward
``A``  t call l2 rms half                     the gradients before optimizer step ``call``:
                                             total L2 norm, root mean square, 1 if any
                                             is float16 (sampled every few steps)
``S``  JSON                                   the main-thread sampler's tables, at exit
``R``  JSON                                   rank and world size (``init_process_group``)
``Q``  JSON                                   the child stops itself: the window is full
``X``  JSON                                   how the script ended (exit code, exception)
=====  =====================================  ==============================================

``main`` is 1 when the call came from the script's main thread in training, 2 from its main
thread in evaluation (gradients off, Keras' evaluate), else 0.
"""

from __future__ import annotations

import json
from collections import namedtuple

MAX_LINE_BYTES = 4000  # below Linux's PIPE_BUF (4096): one write() is atomic

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class Event(NamedTuple):
        kind: str
        pid: int
        fields: tuple[str, ...]
        payload: Any = None  # the decoded JSON for H, F, L, Q, X

else:  # the same tuple, without importing typing
    Event = namedtuple("Event", ["kind", "pid", "fields", "payload"], defaults=[None])


JSON_KINDS = frozenset("HFLNQRSX")


def json_line(kind: str, pid: int, data: dict[str, Any]) -> str:
    """A JSON event line; oversized string values are cut so the line stays atomic."""
    line = f"{kind} {pid} {json.dumps(data, separators=(',', ':'), default=str)}\n"
    if len(line.encode("utf-8", "replace")) <= MAX_LINE_BYTES:
        return line
    trimmed = {k: (v[:200] if isinstance(v, str) else v) for k, v in data.items()}
    trimmed = {k: v for k, v in trimmed.items() if len(json.dumps(v, default=str)) < 1000}
    return f"{kind} {pid} {json.dumps(trimmed, separators=(',', ':'), default=str)}\n"


def parse(line: str) -> Event | None:
    """One line as an ``Event``; None for anything malformed (never raises)."""
    kind, _, rest = line.partition(" ")
    pid_text, _, body = rest.partition(" ")
    if len(kind) != 1 or not pid_text.isdigit():
        return None
    if kind in JSON_KINDS:
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return Event(kind, int(pid_text), (), payload) if isinstance(payload, dict) else None
    return Event(kind, int(pid_text), tuple(body.split()))
