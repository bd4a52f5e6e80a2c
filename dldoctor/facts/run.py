"""Run an external command with a hard timeout; never raises, never leaves a child behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CommandResult:
    """What a command did; ``error`` is set when it could not start (not found, no permission)."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.error

    def describe_failure(self) -> str:
        """One line saying why the command did not succeed, with the command's own words."""
        name = os.path.basename(self.argv[0]) if self.argv else "command"
        if self.error:
            return f"{name}: {self.error}"
        if self.timed_out:
            return f"{name} did not answer within its timeout and was killed"
        said = (self.stderr.strip() or self.stdout.strip()).splitlines()
        text = said[0] if said else "no output"
        return f"{name} exited with code {self.returncode}: {text}"


def run_command(
    argv: Sequence[str],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
) -> CommandResult:
    """Run ``argv`` in its own process group; kill the whole group if it outlives ``timeout_s``.

    A hung ``nvidia-smi`` (wedged driver, process in D state) is the reason this exists: nothing
    in dldoctor starts a process any other way.
    """
    args = tuple(argv)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        return CommandResult(args, None, "", "", error=exc.strerror or str(exc))
    try:
        out, err = proc.communicate(stdin_text, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:  # stuck in the kernel (D state): give up on its output
            out, err = "", ""
        return CommandResult(args, proc.returncode, out or "", err or "", timed_out=True)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    return CommandResult(args, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
