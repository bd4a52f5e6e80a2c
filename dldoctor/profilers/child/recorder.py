"""Inside the profiled script: times batch fetches, counts steps, stops at the window's end.

The hot path (``timed``) costs two ``perf_counter`` calls and a tuple appended to a queue: a
few microseconds. Queued events are formatted and sent in ``write()``s of at most
``MAX_LINE_BYTES`` (atomic on a pipe) every ``FLUSH_S`` or ``FLUSH_EVENTS``, whichever comes
first: one write per batch would wake dldoctor's reader at every step, and formatting right
after a long blocking wait (cold caches) cost ~20 µs per batch on a small VM. Exits, crashes
that Python sees, forks and the window's end flush at once; a SIGKILL loses at most ``FLUSH_S``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from threading import get_ident
from time import perf_counter

from dldoctor.profilers.child.frames import FrameSampler
from dldoctor.profilers.protocol import MAX_LINE_BYTES, json_line

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn

FLUSH_S = 0.1
FLUSH_EVENTS = 64

if TYPE_CHECKING:
    Event = tuple[Any, ...]  # (kind, field, ...): the line without the pid, not yet formatted


class WindowReached(SystemExit):
    """Raised inside the script when ``--steps``/``--duration`` is used up: exits with code 0.

    A ``SystemExit`` so that ``except Exception`` in the script does not swallow it while its
    ``finally`` blocks and context managers still run, as on a normal exit.
    """

    def __init__(self) -> None:
        super().__init__(0)


class _Steps:
    """Complete steps seen: a step is complete when the next one starts or the loop ends."""

    def __init__(self) -> None:
        self.complete = 0
        self.open = False

    def boundary(self) -> None:
        if self.open:
            self.complete += 1
        self.open = True

    def end(self) -> None:
        if self.open:
            self.complete += 1
        self.open = False


class Recorder:
    """Writes events for one process; after a fork the child process gets a fresh state."""

    def __init__(self, fd: int, max_steps: int | None, deadline: float | None) -> None:
        self.fd = fd
        self.max_steps = max_steps
        self.deadline = deadline  # perf_counter time after which the script is stopped
        self.pid = os.getpid()
        self.main_ident = threading.get_ident()
        self.busy: set[int] = set()  # threads inside a timed fetch (a plain set: cheaper)
        self.windowed = max_steps is not None or deadline is not None
        self.explicit = False  # step() or Keras marks seen: they define steps from now on
        self.steps = _Steps()
        self.stopped = False
        self._lock = threading.Lock()
        self._next_id = 0
        self.loader_ids: dict[Any, int] = {}
        self.activity: str | None = None  # the main thread's framework phase (forward, ...)
        self.fetching = 0  # the loader the main thread is fetching from (0: none)
        self.frames: FrameSampler | None = None  # started at the first training batch
        self._queue: deque[Event] = deque()  # appends and pops are atomic: no lock needed
        self._flushed_at = perf_counter()
        self._flush_lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self.flush, after_in_child=self._after_fork)
        _flush_before_exit(self)

    def _after_fork(self) -> None:
        self.pid = os.getpid()
        self.activity = None
        self.frames = None  # its thread stayed in the parent
        self.main_ident = threading.get_ident()
        self.busy = set()
        self.explicit = False
        self.steps = _Steps()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._queue = deque()

    # -- writing ----------------------------------------------------------------------------

    def queue(self, event: Event, t: float | None = None) -> None:
        """Queue one event; send the queue when it is full or ``FLUSH_S`` old (now, if no t)."""
        queue = self._queue
        queue.append(event)
        if t is None or len(queue) >= FLUSH_EVENTS or t - self._flushed_at >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        with self._flush_lock:
            self._send()

    def finish(self) -> None:
        """At exit: what the main-thread sampler saw, then everything queued."""
        frames = self.frames
        if frames is not None and frames.pid == os.getpid():
            frames.stop()
            seen = frames.report()
            if seen:
                self.event("S", seen)
        self.flush()

    def _send(self, extra: bytes = b"") -> None:
        self._flushed_at = perf_counter()
        queue, pid, lines = self._queue, self.pid, []
        while queue:
            try:
                lines.append(_line(pid, queue.popleft()))
            except IndexError:  # another thread took the last one
                break
        if self.fd < 0:
            return
        try:
            chunk = ""
            for line in lines:
                if len(chunk) + len(line) > MAX_LINE_BYTES:
                    os.write(self.fd, chunk.encode("ascii", "replace"))
                    chunk = ""
                chunk += line
            if chunk:
                os.write(self.fd, chunk.encode("ascii", "replace"))
            if extra:
                os.write(self.fd, extra)
        except OSError:  # dldoctor went away: the script goes on, unobserved
            self.fd = -1

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """A JSON event, sent at once after what is queued (utf-8, at most MAX_LINE_BYTES)."""
        line = json_line(kind, self.pid, data).encode("utf-8", "replace")
        with self._flush_lock:
            self._send(line)

    def new_loader(self, key: Any, data: dict[str, Any]) -> int:
        """The id of the loader known by ``key``; announced with an ``L`` event the first time."""
        with self._lock:
            if key in self.loader_ids:
                return self.loader_ids[key]
            self._next_id += 1
            loader_id = self.loader_ids[key] = self._next_id
        self.event("L", {"id": loader_id, **data})
        return loader_id

    def workers(self, loader_id: int, pids: list[int]) -> None:
        if pids:
            self.queue(("W", loader_id, ",".join(str(p) for p in pids)))

    # -- the hot path -----------------------------------------------------------------------

    def timed(
        self, loader_id: int, fetch: Callable[[Any], Any], iterator: Any, training: bool = True
    ) -> Any:
        """``fetch(iterator)`` (the framework's own ``__next__``), timed as one data call.

        ``training`` False: an evaluation batch (fetched with gradients off, or inside Keras'
        evaluate): reported for its loader, never a training step.
        """
        ident = get_ident()
        busy = self.busy
        if ident in busy:  # a loader wrapping another: time the outer only
            return fetch(iterator)
        main = ident == self.main_ident
        where = (1 if training else 2) if main else 0
        steps = main and training and not self.explicit
        t0 = perf_counter()
        if self.windowed and steps and not self.stopped:
            self._maybe_stop(t0, ("E", loader_id, t0, 1))
        busy.add(ident)
        if main:
            self.fetching = loader_id
        try:
            value = fetch(iterator)
        except StopIteration:
            self.queue(("E", loader_id, t0, where), t0)
            if steps:
                self.steps.end()
            raise
        finally:
            busy.discard(ident)
            if main:
                self.fetching = 0
        t1 = perf_counter()
        self.queue(("D", loader_id, t0, t1, where), t1)
        if where == 1 and self.frames is None:
            self.frames = FrameSampler.start(self)
        if self.windowed and steps:
            self.steps.boundary()  # counted for the window only
        return value

    def iterator_made(self, loader_id: int, t0: float, training: bool = True) -> None:
        """An iterator over the loader was made from ``t0`` to now (worker start-up, the first
        prefetch): waiting that the step which fetches its first batch pays for."""
        ident = get_ident()
        if ident in self.busy:
            return
        main = ident == self.main_ident
        t1 = perf_counter()
        self.queue(("I", loader_id, t0, t1, (1 if training else 2) if main else 0), t1)

    def made_batch(self, t0: float, t1: float, collate_s: float) -> None:
        """A batch was made here (a loader worker, or the main thread inside a fetch)."""
        loader_id = self.fetching if get_ident() == self.main_ident else 0
        self.queue(("G", loader_id, t0, t1, collate_s), t1)

    def phase(self, kind: str, t0: float, t1: float) -> None:
        """The main thread spent [t0, t1] in a framework phase (forward, backward, ...)."""
        self.queue(("P", kind, t0, t1), t1)

    # -- explicit steps ---------------------------------------------------------------------

    def mark(self, source: str = "s") -> None:
        """A step boundary from ``dldoctor.step()`` (``s``) or Keras' batch begin (``k``)."""
        if threading.get_ident() != self.main_ident or self.stopped:
            return
        t = perf_counter()
        if self.frames is None:
            self.frames = FrameSampler.start(self)
        if not self.explicit:
            self.explicit = True
            self.steps = _Steps()
        event = ("B", t, source)
        self._maybe_stop(t, event)
        self.queue(event, t)
        self.steps.boundary()

    def end_marks(self) -> None:
        """Explicit steps pause (Keras epoch end): the open step ends here."""
        if threading.get_ident() != self.main_ident or not self.explicit or self.stopped:
            return
        t = perf_counter()
        self.queue(("Z", t), t)
        self.steps.end()

    def end_batch_step(self) -> None:
        """The loop whose batches are its steps pauses (Keras epoch end, validation): the open
        step ends here, not at the next fetch."""
        if threading.get_ident() != self.main_ident or self.explicit or self.stopped:
            return
        t = perf_counter()
        self.queue(("E", 0, t, 1), t)  # loader 0: no loader's pass ended, only the step
        self.steps.end()

    # -- the window -------------------------------------------------------------------------

    def _maybe_stop(self, t: float, closing: Event) -> None:
        """Stop the script if closing the open step now fills the window (the ``closing``
        event tells dldoctor where that last step ended)."""
        reason = None
        steps = self.steps
        if self.max_steps is not None and steps.open and steps.complete + 1 >= self.max_steps:
            reason = "steps"
        if reason is None and self.deadline is not None and t >= self.deadline:
            reason = "duration"
        if reason is None:
            return
        self.queue(closing, t)
        self.steps.end()
        self.stopped = True
        self.event("Q", {"reason": reason, "steps": self.steps.complete, "t": t})
        raise WindowReached()


def _flush_before_exit(rec: Recorder) -> None:
    """Flush before ``os._exit``: forked ranks (multiprocessing's fork start method) and loader
    workers end with it, skipping atexit, and would lose their last ``FLUSH_S`` of events."""
    real: Callable[[int], NoReturn] = getattr(os._exit, "__wrapped__", os._exit)

    def _exit(status: int) -> NoReturn:
        with contextlib.suppress(Exception):  # never keep a process from exiting
            rec.finish()
        real(status)

    _exit.__wrapped__ = real  # type: ignore[attr-defined]
    os._exit = _exit


def _line(pid: int, event: Event) -> str:
    if event[0] == "D":  # nearly every event
        return f"D {pid} {event[1]} {event[2]:.6f} {event[3]:.6f} {event[4]}\n"
    fields = " ".join(f"{x:.6f}" if isinstance(x, float) else str(x) for x in event[1:])
    return f"{event[0]} {pid} {fields}\n"
