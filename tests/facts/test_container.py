"""Container facts from Docker-, Podman- and Kubernetes-like roots: runtime, IPC namespace,
/dev/shm from the mount table, the driver files nvidia-container-toolkit injects."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.checks.container import shm_too_small
from dldoctor.checks.registry import NotApplicable
from dldoctor.document.schema import allow_unknown
from dldoctor.facts.host import Host
from dldoctor.facts.known import Unknown
from dldoctor.facts.model import Facts
from dldoctor.facts.system import gather_system
from dldoctor.matrix import load
from tests.fakes.fsroot import write

SCHEMA = allow_unknown(
    json.loads(
        resources.files("dldoctor.document").joinpath("schema/facts-system.json").read_text()
    )
)
DOCKER_ROOT = (
    "1234 1000 0:123 / / rw,relatime master:1 - overlay overlay rw,"
    "lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,"
    "upperdir=/var/lib/docker/overlay2/f00/diff,workdir=/var/lib/docker/overlay2/f00/work\n"
)
DOCKER_SHM = "1240 1234 0:130 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64\n"
INJECTED = (
    "1250 1234 259:1 /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15 "
    "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15 ro,nosuid,nodev,relatime master:1 - ext4 /dev/nvme0n1p1 rw\n"
    "1251 1234 259:1 /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15 "
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15 ro,nosuid,nodev,relatime master:1 - ext4 /dev/nvme0n1p1 rw\n"
    "1252 1234 259:1 /usr/bin/nvidia-smi /usr/bin/nvidia-smi ro,nosuid,nodev,relatime master:1 - ext4 /dev/nvme0n1p1 rw\n"
)
PROC_DRIVER = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
    "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n"
)


def system(root: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    facts = gather_system(
        Host(root=root, env={"PATH": "", **(env or {})}), os_name="Linux", machine="x86_64"
    )
    jsonschema.validate(facts, SCHEMA)
    return facts


def ipc(root: Path, inode: int) -> None:
    (root / "proc/self/ns").mkdir(parents=True, exist_ok=True)
    (root / "proc/self/ns/ipc").symlink_to(f"ipc:[{inode}]")


def docker(root: Path, shm: str = DOCKER_SHM, inode: int = 4026532465) -> None:
    write(root, "/.dockerenv")
    write(root, "/proc/self/mountinfo", DOCKER_ROOT + shm + INJECTED)
    write(root, "/proc/driver/nvidia/version", PROC_DRIVER)
    ipc(root, inode)


def test_docker_default_container(tmp_path: Path) -> None:
    docker(tmp_path)
    facts = system(
        tmp_path, {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}
    )
    container = facts["container"]
    assert (container["kind"], container["runtime"]) == ("docker", "docker")
    assert container["runtime_evidence"] == "root overlay is stored under /var/lib/docker/"
    assert container["ipc"] == "private"
    assert facts["shm"]["total_bytes"] == 64 << 20
    assert facts["shm"]["size_source"] == "mount size= option"
    assert facts["shm"]["free_bytes"] is None  # statvfs of the fake root is not that tmpfs
    nvidia = container["nvidia"]
    assert nvidia["libraries"] == [
        {"path": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", "version": "550.54.15"},
        {"path": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15", "version": "550.54.15"},
    ]
    assert nvidia["binaries"] == ["/usr/bin/nvidia-smi"]
    assert nvidia["host_driver_version"] == "550.54.15"
    assert (nvidia["visible_devices"], nvidia["driver_capabilities"]) == ("all", "compute,utility")


def test_ipc_host_and_a_large_shm(tmp_path: Path) -> None:
    docker(tmp_path, shm=DOCKER_SHM.replace("size=65536k", "size=32g"), inode=4026531839)
    facts = system(tmp_path)
    assert facts["container"]["ipc"] == "host"
    assert facts["shm"]["total_bytes"] == 32 << 30


def test_podman_and_kubernetes_runtimes(tmp_path: Path) -> None:
    podman = tmp_path / "podman"
    write(podman, "/run/.containerenv", 'engine="podman-4.9.3"\nname="train"\n')
    assert system(podman)["container"]["runtime"] == "podman"
    k8s = tmp_path / "k8s"
    write(
        k8s,
        "/proc/self/cgroup",
        "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n",
    )
    facts = system(k8s, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert (facts["container"]["kind"], facts["container"]["runtime"]) == (
        "kubernetes",
        "containerd",
    )


def test_mount_paths_with_escapes_and_garbage_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "/proc/self/mountinfo",
        "garbage\n\n1 2 3\n" + DOCKER_SHM.replace("/dev/shm", "/dev/shm\\040x"),
    )
    facts = system(tmp_path)
    assert facts["shm"] is None or facts["shm"]["size_source"] == "statvfs"


def judged(shm_bytes: int, kind: str | bool | None = "docker") -> list[Any]:
    facts = Facts.from_dict(
        {
            "system": {
                "container": {"kind": kind, "evidence": None, "ipc": "private"},
                "shm": {"path": "/dev/shm", "total_bytes": shm_bytes},
            }
        }
    )
    return shm_too_small(facts, load())


def test_shm_threshold_below_at_and_above() -> None:
    floor = load().tables["system"]["shm"][0]["min_bytes"]
    assert floor == 1 << 30
    (below,) = judged(floor - 1)
    assert below.severity.value == "warning"
    assert judged(floor) == []
    assert judged(floor * 2) == []


def test_docker_like_64_mb_shm_is_a_finding_with_the_fix(tmp_path: Path) -> None:
    docker(tmp_path)
    facts = Facts.from_dict({"system": system(tmp_path)})
    (verdict,) = shm_too_small(facts, load())
    assert verdict.title.startswith(
        "/dev/shm in this docker container is 64 MiB (64 MiB is the docker default)"
    )
    assert "--shm-size=8g" in verdict.fixes[0].summary and "--ipc=host" in verdict.fixes[0].summary


def test_kubernetes_gets_the_emptydir_fix_and_no_container_is_not_judged() -> None:
    (verdict,) = judged(64 << 20, kind="kubernetes")
    assert "emptyDir" in verdict.fixes[0].summary and "medium: Memory" in verdict.fixes[0].notes
    with pytest.raises(NotApplicable):
        judged(64 << 20, kind=False)  # no container seen
    with pytest.raises(Unknown):
        judged(64 << 20, kind=None)  # unknown: not judged


def test_no_runtime_no_variables_no_driver_file_are_known_absences(tmp_path: Path) -> None:
    write(tmp_path, "/.dockerenv")  # a container, but nothing says whose, and no NVIDIA driver
    container = system(tmp_path)["container"]
    assert container["kind"] == "docker"
    assert container["runtime"] is False  # no runtime recognised: not unknown
    nvidia = container["nvidia"]
    assert nvidia["host_driver_version"] is False  # /proc/driver/nvidia/version does not exist
    assert nvidia["visible_devices"] is False and nvidia["driver_capabilities"] is False
    assert container["ipc"] is None  # /proc/self/ns/ipc unreadable here: unknown, not absent


def test_a_driver_file_without_a_version_line_and_an_empty_variable_are_not_absences(
    tmp_path: Path,
) -> None:
    write(tmp_path, "/.dockerenv")
    write(tmp_path, "/proc/driver/nvidia/version", "garbage\n")
    nvidia = system(tmp_path, {"NVIDIA_VISIBLE_DEVICES": ""})["container"]["nvidia"]
    assert nvidia["host_driver_version"] is None  # there, but not understood: unknown
    assert nvidia["visible_devices"] == ""  # set to empty: what the toolkit reads as none
