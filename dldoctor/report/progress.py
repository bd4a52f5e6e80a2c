"""Live progress of the probes on a terminal: a spinner line per framework, then its result.

Only for a terminal (stderr): redrawn in place with ANSI cursor moves by one ticker thread; the
probe threads only update the state under a lock. Nothing at all is written elsewhere, so a pipe
or a log file never gets control characters, and stdout (the report, JSON) is never touched.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

from dldoctor.report.clean import clean
from dldoctor.report.runtime_summary import note

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_GLYPH = {
    "pass": ("✓", "32"),
    "fail": ("✗", "31"),
    "crash": ("☠", "35"),
    "timeout": ("⌛", "31"),
    "interrupted": ("–", "33"),
}
TICK_S = 0.1


class Progress:
    """Call ``event`` from any thread; ``close`` when the probes are done."""

    def __init__(
        self, stream: TextIO, color: bool = True, width: int = 100, order: tuple[str, ...] = ()
    ) -> None:
        self.stream, self.color, self.width = stream, color, max(width, 40)
        self.lock = threading.Lock()
        self.rank = {name: i for i, name in enumerate(order)}
        self.order: list[str] = []
        self.state: dict[str, str] = {}  # framework → what it is doing now
        self.done: dict[str, tuple[str, str]] = {}  # framework → (status, one line)
        self.drawn = 0
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="dldoctor-progress", daemon=True)
        self.ticker.start()

    def event(self, kind: str, framework: str, detail: str = "", record: Any = None) -> None:
        with self.lock:
            if framework not in self.order:
                self.order.append(framework)
                self.order.sort(key=lambda n: self.rank.get(n, len(self.rank)))
            if kind == "end" and isinstance(record, dict):
                took = record.get("duration_s")
                seconds = f" ({took:.1f} s)" if isinstance(took, (int, float)) else ""
                self.done[framework] = (
                    str(record.get("status")),
                    clean(note(framework, record)) + seconds,
                )
            elif framework not in self.done:
                self.state[framework] = clean(detail)

    def close(self) -> None:
        self.stop.set()
        self.ticker.join(timeout=1.0)
        with self.lock:
            self._draw(final=True)

    def _tick(self) -> None:
        while not self.stop.wait(TICK_S):
            with self.lock:
                self._draw()

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def _draw(self, final: bool = False) -> None:
        frame = _FRAMES[int((time.monotonic() - self.started) / TICK_S) % len(_FRAMES)]
        rows = []
        for name in self.order:
            if name in self.done:
                status, line = self.done[name]
                glyph, code = _GLYPH.get(status, ("–", "2"))
                rows.append(f"  {self._style(glyph, code)} {name:<12} {line}")
            elif final:
                rows.append(f"  – {name:<12} (no result)")
            else:
                rows.append(f"  {self._style(frame, '36')} {name:<12} {self.state.get(name, '')}…")
        out = "\033[F" * self.drawn  # back to the first line of the block
        for row in rows:
            out += "\033[2K" + _clip(row, self.width) + "\n"
        self.drawn = len(rows)
        self.stream.write(out)
        self.stream.flush()


def _clip(row: str, width: int) -> str:
    """Keep a row on one terminal line (escape sequences do not take columns)."""
    visible = 0
    out = []
    skipping = False
    for char in row:
        if char == "\033":
            skipping = True
        if skipping:
            out.append(char)
            skipping = char != "m"
            continue
        if visible >= width - 1:
            out.append("…")
            break
        out.append(char)
        visible += 1
    return "".join(out) + ("\033[0m" if "\033" in row else "")
