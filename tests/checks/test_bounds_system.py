"""DD203 (/dev/shm too small in a container) at, below and above the matrix's floor, for each
kind of container, and why it is small: the host's own (--ipc=host), the runtime's default."""

from __future__ import annotations

import pytest

from dldoctor.checks import container
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.known import Unknown
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.scenarios import make_facts

MATRIX = load()
RULE = MATRIX.tables["system"]["shm"][0]
FLOOR = int(RULE["min_bytes"])
DEFAULT = int(RULE["docker_default_bytes"])
KINDS = ("docker", "podman", "kubernetes")


def facts(total: int | None, kind: str | bool = "docker", ipc: str = "private", **shm):
    return make_facts(
        {
            "system": {
                "container": {"kind": kind, "evidence": "/.dockerenv exists", "ipc": ipc},
                "shm": {"path": "/dev/shm", "total_bytes": total, **shm},
            }
        }
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("total", [FLOOR - 1, FLOOR, FLOOR + 1, DEFAULT, 0])
def test_below_the_floor_warns_at_or_above_it_is_healthy(kind, total):
    verdicts = container.shm_too_small(facts(total, kind), MATRIX)
    if total >= FLOOR:
        assert verdicts == []
        return
    (verdict,) = verdicts
    assert verdict.severity is Severity.WARNING
    assert f"/dev/shm in this {kind} container is " in verdict.title
    assert verdict.evidence == {
        "shm_bytes": total,
        "min_bytes": FLOOR,
        "size_source": None,
        "container": kind,
        "ipc": "private",
        "source": RULE["source"],
    }
    assert verdict.title.endswith("); PyTorch data-loader workers and NCCL need more")
    (fix,) = verdict.fixes
    if kind == "kubernetes":  # the pod spec, not a run flag
        assert fix.summary == "Mount a memory-backed emptyDir at /dev/shm in the pod spec."
        assert fix.notes == (
            "volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 8Gi}}] and, in the "
            "container, volumeMounts: [{name: dshm, mountPath: /dev/shm}]"
        )
    else:
        assert fix.summary == (
            "Start the container with a larger /dev/shm: add --shm-size=8g (or --ipc=host) to "
            f"'{kind} run', or shm_size: 8gb in docker-compose."
        )
        assert fix.notes == (
            "Run on the host, not inside this container; NVIDIA's containers are documented "
            "with --shm-size=1g at least."
        )


def test_why_it_is_small_names_the_host_the_default_or_the_floor():
    host = container.shm_too_small(facts(DEFAULT, ipc="host"), MATRIX)[0]
    assert "(it is the host's own /dev/shm (--ipc=host), so the host's is small)" in host.title
    assert host.evidence["ipc"] == "host"
    default = container.shm_too_small(facts(DEFAULT, "podman"), MATRIX)[0]
    assert "(64 MiB is the podman default)" in default.title
    other = container.shm_too_small(facts(DEFAULT + 1), MATRIX)[0]
    assert "(the floor is 1.0 GiB)" in other.title
    assert "is 64 MiB (" in other.title  # a byte over 64 MiB still shows as 64 MiB


def test_sizes_are_shown_in_mib_below_a_gib_and_in_gib_from_it():
    assert container._size(1 << 30) == "1.0 GiB"
    assert container._size((1 << 30) - 1) == "1023 MiB"
    assert container._size(3 << 29) == "1.5 GiB"
    assert container._size(5 << 20) == "5 MiB"


def test_size_source_is_carried_as_evidence():
    verdict = container.shm_too_small(facts(DEFAULT, size_source="statvfs"), MATRIX)[0]
    assert verdict.evidence["size_source"] == "statvfs"


def test_outside_a_container_or_without_dev_shm_nothing_is_judged():
    with pytest.raises(NotApplicable, match=r"^not in a container$"):
        container.shm_too_small(facts(DEFAULT, kind=False), MATRIX)
    no_shm = make_facts({"system": {"container": {"kind": "docker", "ipc": None}, "shm": False}})
    with pytest.raises(NotApplicable, match=r"^no /dev/shm here$"):
        container.shm_too_small(no_shm, MATRIX)
    with pytest.raises(Unknown):
        container.shm_too_small(facts(None), MATRIX)
