"""The machine's boundary: filesystem root, environment, NVML module, command runner.

Every gatherer reaches the machine only through a ``Host``. Tests build one over a temporary
root directory, a crafted environment (``PATH`` pointing at fake commands) and a fake NVML
module object; the code path is the one real hardware takes.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.facts.reaper import read_bounded
from dldoctor.facts.run import DEFAULT_TIMEOUT_S, OUTPUT_LIMIT_BYTES, CommandResult, run_command


def _environ() -> Mapping[str, str]:
    return dict(os.environ)


@dataclass(frozen=True)
class Host:
    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=_environ)
    # The pynvml module object, or a stand-in with the same functions; None imports pynvml.
    # gather_nvidia asks it in a child process: a stand-in travels by its dldoctor_recipe().
    nvml: Any = None
    # Windows: the winreg module, or a stand-in with OpenKey/QueryValueEx/CloseKey; None: winreg.
    winreg: Any = None
    command_timeout_s: float = DEFAULT_TIMEOUT_S
    # NVML's child: what --timeout says, kept within nvml_child.TIMEOUT_BOUNDS_S (a many-GPU
    # machine without persistence mode initialises slowly).
    nvml_timeout_s: float = 10.0
    # Set when the gathering is abandoned (Ctrl-C): every command still running is stopped.
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def path(self, absolute: str) -> Path:
        """Where an absolute machine path (``/proc/cpuinfo``) lives under this host's root."""
        return self.root / absolute.lstrip("/")

    def read_text(self, absolute: str, limit_bytes: int = 1 << 20) -> str | None:
        """A file's text, or None if it is missing or unreadable. Never raises."""
        raw = read_bounded(self.path(absolute), limit_bytes)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def which(self, command: str) -> str | None:
        return shutil.which(command, path=self.env.get("PATH", ""))

    def run(
        self,
        argv: Sequence[str],
        timeout_s: float | None = None,
        limit_bytes: int = OUTPUT_LIMIT_BYTES,
    ) -> CommandResult:
        """``run_command`` with this host's environment and timeout."""
        timeout = timeout_s or self.command_timeout_s
        return run_command(argv, timeout, self.env, limit_bytes, self.cancel)
