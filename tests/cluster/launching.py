"""Start real ranks of `dldoctor check --cluster`: under torchrun, or with Slurm's variables by hand."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).parent / "torchrun"
WAIT_S = 400.0  # a loaded 2-core machine runs several torch imports side by side
_LAUNCH = {
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
    "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE",
}  # fmt: skip


@dataclass
class Ended:
    code: int
    out: str
    err: str

    def report(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text(encoding="utf-8"))


def env(**extra: str) -> dict[str, str]:
    """This environment without any launcher's variables, dldoctor importable from the worktree."""
    clean = {k: v for k, v in os.environ.items() if k not in _LAUNCH and not k.startswith("SLURM_")}
    clean.update(PYTHONPATH=str(ROOT), NO_COLOR="1", OMP_NUM_THREADS="1")
    clean.update(extra)
    return clean


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slurm(
    rank: int, world: int, port: int, args: Sequence[str], cwd: Path, **extra: str
) -> subprocess.Popen[str]:
    """One task as srun would start it, each on a node of its own (SLURM_NODEID = its rank)."""
    variables = env(
        SLURM_PROCID=str(rank),
        SLURM_NTASKS=str(world),
        SLURM_LOCALID="0",
        SLURM_NODEID=str(rank),
        SLURM_NNODES=str(world),
        SLURM_STEP_ID="0",
        SLURM_JOB_ID="4242",
        SLURM_STEP_NODELIST="localhost",
        MASTER_PORT=str(port),
        **extra,
    )
    command = [sys.executable, "-m", "dldoctor", "check", "--cluster", *args]
    return _start(command, variables, cwd)


def torchrun(
    nproc: int,
    port: int,
    args: Sequence[str],
    cwd: Path,
    nnodes: int = 1,
    node_rank: int = 0,
    **extra: str,
) -> subprocess.Popen[str]:
    command = [
        str(TORCHRUN),
        f"--nnodes={nnodes}",
        f"--node-rank={node_rank}",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={port}",
        "-m", "dldoctor", "check", "--cluster", *args,
    ]  # fmt: skip
    return _start(command, env(**extra), cwd)


def _start(command: list[str], variables: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, env=variables, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip


def wait(proc: subprocess.Popen[str], timeout_s: float = WAIT_S) -> Ended:
    out, err = proc.communicate(timeout=timeout_s)
    return Ended(proc.returncode, out, err)


def interrupt(proc: subprocess.Popen[str]) -> Ended:
    """Ctrl-C, as a user would: dldoctor kills its child on the way out."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    return wait(proc, 60.0)


@contextlib.contextmanager
def reaped(*procs: subprocess.Popen[str]) -> Iterator[None]:
    """Whatever happens in the test, no rank outlives it."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
