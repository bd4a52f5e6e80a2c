"""Which launcher started this process, and what it says: rank, world, node, rendezvous address.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK (the node's rank),
MASTER_ADDR and MASTER_PORT; Slurm's srun sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
SLURM_NODEID and the step's host list, whose first host is the rendezvous host. Read only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dldoctor.cluster import nodelist

DEFAULT_PORT_BASE = 15000  # Slurm without MASTER_PORT: 15000 + the job id's last 4 digits
HOW_TO_LAUNCH = (
    "--cluster runs one dldoctor per process of a launcher: "
    "`torchrun --nnodes N --nproc-per-node G -m dldoctor check --cluster` or "
    "`srun -N N --ntasks-per-node G dldoctor check --cluster` (no torchrun or srun variables here)"
)


class LaunchError(ValueError):
    """The launcher's variables are there but make no sense; the message names the variable."""


@dataclass(frozen=True)
class Launch:
    launcher: str  # "torchrun", "slurm", or "env" (RANK/WORLD_SIZE/MASTER_* set by hand)
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int | None  # ranks on this node, when the launcher says
    node_rank: int | None  # this node's index (GROUP_RANK, SLURM_NODEID)
    nodes: int | None  # node count, when the launcher says
    master_addr: str
    master_port: int
    agent_store: bool = False  # torchrun's agent hosts the TCPStore: every rank is its client
    run_id: str = "0"  # keys of this run in a store others may share (torchrun's agent store)

    @property
    def gatherer(self) -> bool:
        """One process per node gathers facts and runs the probes: the node's local rank 0."""
        return self.local_rank == 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def detect(env: Mapping[str, str]) -> Launch | None:
    """The launch this environment describes; None when no launcher started this process."""
    if all(env.get(v) for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")):
        return _torchrun(env)
    if env.get("SLURM_PROCID") and env.get("SLURM_NTASKS"):
        if not (env.get("SLURM_STEP_ID") or env.get("SLURM_STEPID")):
            # An sbatch script itself has SLURM_PROCID=0 and the job's task count: the other
            # tasks would never come. Only srun starts a step.
            raise LaunchError(
                "this is a Slurm batch script, not a job step: run it under srun "
                "(`srun dldoctor check --cluster`)"
            )
        return _slurm(env)
    return None


def _torchrun(env: Mapping[str, str]) -> Launch:
    rank, world = _int(env, "RANK"), _int(env, "WORLD_SIZE", low=1)
    local = _int(env, "LOCAL_RANK") if env.get("LOCAL_RANK") else 0
    local_world = _int(env, "LOCAL_WORLD_SIZE", low=1) if env.get("LOCAL_WORLD_SIZE") else None
    node = _int(env, "GROUP_RANK") if env.get("GROUP_RANK") else None
    nodes = None
    if local_world and world % local_world == 0:
        nodes = world // local_world
    _within(rank, world, "RANK", "WORLD_SIZE")
    if local_world is not None:
        _within(local, local_world, "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    torchrun = bool(env.get("TORCHELASTIC_RUN_ID"))
    return Launch(
        launcher="torchrun" if torchrun else "env",
        rank=rank,
        world_size=world,
        local_rank=local,
        local_world_size=local_world,
        node_rank=node,
        nodes=nodes,
        master_addr=_host(env["MASTER_ADDR"], "MASTER_ADDR"),
        master_port=_port(env, "MASTER_PORT"),
        # As torch.distributed's env:// rendezvous reads it (torch/distributed/rendezvous.py).
        agent_store=env.get("TORCHELASTIC_USE_AGENT_STORE") == "True",
        run_id=_safe(
            f"{env.get('TORCHELASTIC_RUN_ID', '0')}.{env.get('TORCHELASTIC_RESTART_COUNT', '0')}"
        ),
    )


def _slurm(env: Mapping[str, str]) -> Launch:
    rank, world = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS", low=1)
    _within(rank, world, "SLURM_PROCID", "SLURM_NTASKS")
    hosts_var = next(
        (v for v in ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST") if env.get(v)),
        None,
    )
    if env.get("MASTER_ADDR"):
        master = _host(env["MASTER_ADDR"], "MASTER_ADDR")
    elif hosts_var is None:
        raise LaunchError("Slurm gives no host list (SLURM_STEP_NODELIST, SLURM_JOB_NODELIST)")
    else:
        try:
            master = nodelist.first(env[hosts_var])
        except nodelist.NodeListError as exc:
            raise LaunchError(f"{hosts_var}: {exc}") from None
    if env.get("MASTER_PORT"):
        port = _port(env, "MASTER_PORT")
    else:
        # PyTorch Lightning's rule for Slurm jobs, so both agree on a port no one chose.
        job = "".join(c for c in env.get("SLURM_JOB_ID", "") if c.isdigit())
        if not job:
            raise LaunchError("Slurm gives no SLURM_JOB_ID to derive a port from: set MASTER_PORT")
        port = DEFAULT_PORT_BASE + int(job[-4:])
    nodes = None
    for var in ("SLURM_STEP_NUM_NODES", "SLURM_NNODES", "SLURM_JOB_NUM_NODES"):
        if env.get(var):
            nodes = _int(env, var, low=1)
            break
    local = _int(env, "SLURM_LOCALID") if env.get("SLURM_LOCALID") else 0
    return Launch(
        launcher="slurm",
        rank=rank,
        world_size=world,
        local_rank=local,
        local_world_size=None,
        node_rank=_int(env, "SLURM_NODEID") if env.get("SLURM_NODEID") else None,
        nodes=nodes,
        master_addr=master,
        master_port=port,
        run_id=_safe(f"{env.get('SLURM_JOB_ID', '0')}.{env.get('SLURM_STEP_ID', '0')}"),
    )


def _int(env: Mapping[str, str], name: str, low: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 9 or int(raw) < low:
        raise LaunchError(f"{name}={raw[:40]!r} is not a whole number of at least {low}")
    return int(raw)


def _within(value: int, size: int, name: str, size_name: str) -> None:
    if value >= size:
        raise LaunchError(f"{name}={value} is not below {size_name}={size}")


def _port(env: Mapping[str, str], name: str) -> int:
    port = _int(env, name, low=1)
    if port > 65535:
        raise LaunchError(f"{name}={port} is not a TCP port (1-65535)")
    return port


def _host(raw: str, name: str) -> str:
    host = raw.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
    if not host or len(host) > 255 or not set(host) <= allowed:
        raise LaunchError(f"{name}={raw[:60]!r} is not a host name or address")
    return host


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:64]
