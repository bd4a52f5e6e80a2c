"""Inside the profiled script: times batch fetches, counts steps, stops at the window's end.

The hot path (``timed``) costs two ``perf_counter`` calls and one formatted line per batch: a
few microseconds. Lines are sent in ``write()``s of at most ``FLUSH_BYTES`` (atomic on a pipe)
every ``FLUSH_S`` or sooner: one write per batch would wake dldoctor's reader each step, and on
a busy machine that wake-up preempts the training loop. Exits, crashes that Python sees, forks
and the window's end flush at once; a SIGKILL loses at most ``FLUSH_S`` of events.
"""

from __future__ import annotations

import os
import threading
from threading import get_ident
from time import perf_counter
from typing import Any, Callable

from dldoctor.profile.protocol import MAX_LINE_BYTES, json_line

FLUSH_S = 0.1
FLUSH_BYTES = MAX_LINE_BYTES


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
        self._buffer: list[str] = []
        self._buffered = 0
        self._flushed_at = perf_counter()
        self._flush_lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self.flush, after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.pid = os.getpid()
        self.main_ident = threading.get_ident()
        self.busy = set()
        self.explicit = False
        self.steps = _Steps()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer, self._buffered = [], 0

    # -- writing ----------------------------------------------------------------------------

    def write(self, line: str, t: float | None = None) -> None:
        """Queue one ASCII event line; send the queue when it is full or ``FLUSH_S`` old."""
        with self._flush_lock:
            if self._buffered + len(line) > FLUSH_BYTES:
                self._send()
            self._buffer.append(line)
            self._buffered += len(line)
            if t is None or t - self._flushed_at >= FLUSH_S:
                self._send()

    def flush(self) -> None:
        with self._flush_lock:
            self._send()

    def _send(self, extra: bytes = b"") -> None:
        lines, self._buffer, self._buffered = self._buffer, [], 0
        self._flushed_at = perf_counter()
        if self.fd < 0:
            return
        try:
            if lines:
                os.write(self.fd, "".join(lines).encode("ascii", "replace"))
            if extra:
                os.write(self.fd, extra)
        except OSError:  # dldoctor went away: the script goes on, unobserved
            self.fd = -1

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """A JSON event, sent at once (its line alone, utf-8, at most ``MAX_LINE_BYTES``)."""
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
            self.write(f"W {self.pid} {loader_id} {','.join(str(p) for p in pids)}\n")

    # -- the hot path -----------------------------------------------------------------------

    def timed(self, loader_id: int, fetch: Callable[[Any], Any], iterator: Any) -> Any:
        """``fetch(iterator)`` (the framework's own ``__next__``), timed as one data call."""
        ident = get_ident()
        busy = self.busy
        if ident in busy:  # a loader wrapping another: time the outer only
            return fetch(iterator)
        main = ident == self.main_ident
        t0 = perf_counter()
        if self.windowed and main and not self.explicit and not self.stopped:
            self._maybe_stop(t0, f"E {self.pid} {loader_id} {t0:.6f} 1\n")
        busy.add(ident)
        try:
            value = fetch(iterator)
        except StopIteration:
            self.write(f"E {self.pid} {loader_id} {t0:.6f} {int(main)}\n", t0)
            if main and not self.explicit:
                self.steps.end()
            raise
        finally:
            busy.discard(ident)
        t1 = perf_counter()
        self.write(f"D {self.pid} {loader_id} {t0:.6f} {t1:.6f} {int(main)}\n", t1)
        if self.windowed and main and not self.explicit:
            self.steps.boundary()  # counted for the window only
        return value

    # -- explicit steps ---------------------------------------------------------------------

    def mark(self, source: str = "s") -> None:
        """A step boundary from ``dldoctor.step()`` (``s``) or Keras' batch begin (``k``)."""
        if threading.get_ident() != self.main_ident or self.stopped:
            return
        t = perf_counter()
        if not self.explicit:
            self.explicit = True
            self.steps = _Steps()
        line = f"B {self.pid} {t:.6f} {source}\n"
        self._maybe_stop(t, line)
        self.write(line, t)
        self.steps.boundary()

    def end_marks(self) -> None:
        """Explicit steps pause (Keras epoch end): the open step ends here."""
        if threading.get_ident() != self.main_ident or not self.explicit or self.stopped:
            return
        t = perf_counter()
        self.write(f"Z {self.pid} {t:.6f}\n", t)
        self.steps.end()

    # -- the window -------------------------------------------------------------------------

    def _maybe_stop(self, t: float, closing_line: str) -> None:
        """Stop the script if closing the open step now fills the window (``closing_line``
        tells dldoctor where that last step ended)."""
        reason = None
        steps = self.steps
        if self.max_steps is not None and steps.open and steps.complete + 1 >= self.max_steps:
            reason = "steps"
        if reason is None and self.deadline is not None and t >= self.deadline:
            reason = "duration"
        if reason is None:
            return
        self.write(closing_line, t)
        self.steps.end()
        self.stopped = True
        self.event("Q", {"reason": reason, "steps": self.steps.complete, "t": t})
        raise WindowReached()
