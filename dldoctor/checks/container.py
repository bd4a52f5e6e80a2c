"""Checks of the container a framework runs in: its /dev/shm."""

from __future__ import annotations

from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

_MIB = 1 << 20


def _size(total: int) -> str:
    return f"{total / (1 << 30):.1f} GiB" if total >= 1 << 30 else f"{total // _MIB} MiB"


@check(
    "DD203",
    "shm-too-small",
    "The container's /dev/shm is too small for data-loader workers and NCCL",
    Area.SYSTEM,
)
def shm_too_small(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: this runs in a container (Docker, Podman, Kubernetes) whose /dev/shm is smaller
    than the matrix's floor (1 GiB); Docker and Kubernetes give 64 MiB unless told otherwise.

    Why: PyTorch's DataLoader workers hand batches over in shared memory and NCCL keeps its
    buffers there: training dies with "DataLoader worker (pid N) is killed by signal: Bus error",
    "unable to write to file </torch_...>: No space left on device", or NCCL fails in ncclShmOpen.

    Fix: start the container with a larger /dev/shm (docker run --shm-size=8g, or --ipc=host),
    or on Kubernetes mount a memory-backed emptyDir at /dev/shm.
    """
    container = facts.system.get("container") or {}
    kind = container.get("kind")
    if not kind:
        raise NotApplicable("not in a container (or it cannot be told)")
    shm = facts.system.get("shm") or {}
    total = shm.get("total_bytes")
    if not isinstance(total, int):
        raise NotApplicable("the size of /dev/shm is unknown")
    rule = matrix.tables["system"]["shm"][0]
    floor = int(rule["min_bytes"])
    if total >= floor:
        return []
    if container.get("ipc") == "host":
        how = "it is the host's own /dev/shm (--ipc=host), so the host's is small"
    elif total == rule.get("docker_default_bytes"):
        how = f"{_size(total)} is the {kind} default"
    else:
        how = f"the floor is {_size(floor)}"
    if kind == "kubernetes":
        fix = Fix(
            "Mount a memory-backed emptyDir at /dev/shm in the pod spec.",
            notes=(
                "volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 8Gi}}] and, in "
                "the container, volumeMounts: [{name: dshm, mountPath: /dev/shm}]"
            ),
        )
    else:
        fix = Fix(
            "Start the container with a larger /dev/shm: add --shm-size=8g (or --ipc=host) to "
            f"'{kind} run', or shm_size: 8gb in docker-compose.",
            notes="Run on the host, not inside this container; NVIDIA's containers are documented "
            "with --shm-size=1g at least.",
        )
    return [
        Verdict(
            Severity.WARNING,
            f"/dev/shm in this {kind} container is {_size(total)} ({how}); PyTorch data-loader "
            "workers and NCCL need more",
            evidence={
                "shm_bytes": total,
                "min_bytes": floor,
                "size_source": shm.get("size_source"),
                "container": kind,
                "ipc": container.get("ipc"),
                "source": rule["source"],
            },
            fixes=(fix,),
        )
    ]
