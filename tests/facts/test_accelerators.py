"""The accelerators section, from fake sysfs/dev/opt trees under tmp_path and from this machine."""

from __future__ import annotations

import json
import platform
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.document.schema import allow_unknown
from dldoctor.facts.accelerators import gather_accelerators
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from tests.fakes.fsroot import script, write

PART = json.loads(
    resources.files("dldoctor.document").joinpath("schema/facts-accelerators.json").read_text()
)
# Validated as dldoctor.document.schema embeds it in the report: under $defs, refs resolving there.
SCHEMA = {
    "$schema": PART["$schema"],
    "$defs": {
        "facts-accelerators": allow_unknown({k: v for k, v in PART.items() if k != "$schema"})
    },
    "$ref": "#/$defs/facts-accelerators",
}
NO_LIBS = LdCache(())


def gather(root: Path, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ldcache", NO_LIBS)
    kwargs.setdefault("os_name", "Linux")
    facts = gather_accelerators(Host(root=root, env=env or {"PATH": ""}), **kwargs)
    jsonschema.validate(facts, SCHEMA)
    return facts


def pci_device(
    root: Path, address: str, vendor: str, device: str, klass: str, driver: str | None
) -> None:
    base = f"/sys/bus/pci/devices/{address}"
    write(root, f"{base}/vendor", vendor + "\n")
    write(root, f"{base}/device", device + "\n")
    write(root, f"{base}/class", klass + "\n")
    if driver:  # sysfs links to the driver's directory; only its name matters
        (root / base.lstrip("/") / "driver").symlink_to(f"../../../bus/pci/drivers/{driver}")


def test_pci_gpus_with_and_without_a_bound_driver(tmp_path: Path) -> None:
    pci_device(tmp_path, "0000:00:00.0", "0x8086", "0x0d57", "0x060000", None)  # host bridge
    pci_device(tmp_path, "0000:01:00.0", "0x10de", "0x2330", "0x030200", "nvidia")  # H100
    pci_device(tmp_path, "0000:01:00.1", "0x10de", "0x22ba", "0x040300", "snd_hda_intel")
    pci_device(tmp_path, "0000:02:00.0", "0x10de", "0x2684", "0x030000", None)  # RTX 4090
    pci_device(tmp_path, "0000:03:00.0", "0x1002", "0x74A1", "0x038000", "amdgpu")  # MI300X
    pci_device(tmp_path, "0000:04:00.0", "0x1af4", "0x1041", "0x020000", "virtio-pci")
    pci = gather(tmp_path)["pci"]
    assert pci == {
        "nvidia": [
            {
                "address": "0000:01:00.0",
                "device_id": "0x2330",
                "class": "0x030200",
                "driver": "nvidia",
            },
            {
                "address": "0000:02:00.0",
                "device_id": "0x2684",
                "class": "0x030000",
                "driver": False,
            },
        ],
        "amd": [
            {
                "address": "0000:03:00.0",
                "device_id": "0x74a1",
                "class": "0x038000",
                "driver": "amdgpu",
            }
        ],
        "intel": [],
        "dxg_present": False,
        "error": None,
    }


def test_no_pci_tree_is_an_error_not_a_crash(tmp_path: Path) -> None:
    pci = gather(tmp_path)["pci"]
    assert pci["nvidia"] == pci["amd"] == pci["intel"] == []
    assert pci["error"] is not None and pci["error"].startswith("cannot list /sys/bus/pci/devices")


def test_wsl2_gpu_shows_as_dev_dxg(tmp_path: Path) -> None:
    (tmp_path / "sys" / "bus" / "pci" / "devices").mkdir(parents=True)
    write(tmp_path, "/dev/dxg")
    pci = gather(tmp_path)["pci"]
    assert pci["dxg_present"] is True
    assert pci["error"] is None and pci["nvidia"] == []


def test_rocm_version_and_kfd(tmp_path: Path) -> None:
    write(tmp_path, "/opt/rocm/.info/version", "6.2.0-66\n")
    write(tmp_path, "/dev/kfd")
    rocm = gather(tmp_path)["rocm"]
    assert rocm == {"path": "/opt/rocm", "version": "6.2.0", "kfd_present": True, "errors": {}}


def test_rocm_path_env_wins_over_opt_rocm(tmp_path: Path) -> None:
    write(tmp_path, "/opt/rocm/.info/version", "6.2.0-66\n")
    write(tmp_path, "/usr/local/rocm-6.3/.info/version", "6.3.1\n")
    env = {"PATH": "", "ROCM_PATH": "/usr/local/rocm-6.3"}
    rocm = gather(tmp_path, env=env)["rocm"]
    assert (rocm["path"], rocm["version"], rocm["kfd_present"]) == (
        "/usr/local/rocm-6.3",
        "6.3.1",
        False,
    )


def test_rocm_version_from_the_opt_rocm_link_when_info_is_missing(tmp_path: Path) -> None:
    (tmp_path / "opt" / "rocm-6.1.2").mkdir(parents=True)
    (tmp_path / "opt" / "rocm").symlink_to("rocm-6.1.2")
    assert gather(tmp_path)["rocm"]["version"] == "6.1.2"


def test_rocm_dir_without_a_version(tmp_path: Path) -> None:
    (tmp_path / "opt" / "rocm").mkdir(parents=True)
    rocm = gather(tmp_path)["rocm"]
    assert rocm["path"] == "/opt/rocm" and rocm["version"] is None
    assert rocm["errors"] == {"version": "/opt/rocm/.info/version is missing or empty"}


def test_no_rocm(tmp_path: Path) -> None:
    assert gather(tmp_path)["rocm"] == {
        "path": False,
        "version": False,
        "kfd_present": False,
        "errors": {},
    }


def test_intel_xpu_render_nodes_oneapi_and_level_zero(tmp_path: Path) -> None:
    for name in ("renderD129", "renderD128", "card0"):
        write(tmp_path, f"/dev/dri/{name}")
    (tmp_path / "opt" / "intel" / "oneapi").mkdir(parents=True)
    ldcache = LdCache(
        (
            ("libze_loader.so.1", "/usr/lib/x86_64-linux-gnu/libze_loader.so.1"),
            ("libze_intel_gpu.so.1", "/usr/lib/x86_64-linux-gnu/libze_intel_gpu.so.1"),
            ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        )
    )
    xpu = gather(tmp_path, ldcache=ldcache)["intel_xpu"]
    assert xpu == {
        "render_nodes": ["/dev/dri/renderD128", "/dev/dri/renderD129"],
        "oneapi_path": "/opt/intel/oneapi",
        "level_zero_loader": ["/usr/lib/x86_64-linux-gnu/libze_loader.so.1"],
        "errors": {},
    }


def test_ldcache_error_is_kept(tmp_path: Path) -> None:
    xpu = gather(tmp_path, ldcache=LdCache((), error="ldconfig not found"))["intel_xpu"]
    assert xpu["level_zero_loader"] == []
    assert xpu["errors"] == {"level_zero_loader": "ldconfig not found"}


def test_ldcache_is_read_only_when_not_given(tmp_path: Path) -> None:
    marker = tmp_path / "ldconfig-ran"
    script(
        tmp_path,
        "/bin/ldconfig",
        f'echo x > "{marker}"\n'
        'printf "1 libs found in cache\\n"\n'
        'printf "\\tlibze_loader.so.1 (libc6,x86-64) => /opt/ze/libze_loader.so.1\\n"\n',
    )
    env = {"PATH": str(tmp_path / "bin")}
    gather(tmp_path, env=env, ldcache=NO_LIBS)
    assert not marker.exists()
    xpu = gather(tmp_path, env=env, ldcache=None)["intel_xpu"]
    assert marker.exists()
    assert xpu["level_zero_loader"] == ["/opt/ze/libze_loader.so.1"]


def fake_sysctl(tmp_path: Path, arm64: bool) -> dict[str, str]:
    marker = tmp_path / "sysctl-ran"
    if arm64:
        body = f'echo x > "{marker}"\necho "hw.optional.arm64: 1"\n'
    else:  # Intel Macs' kernels do not know the key
        body = (
            f'echo x > "{marker}"\necho "sysctl: unknown oid \'hw.optional.arm64\'" >&2\nexit 1\n'
        )
    script(tmp_path, "/bin/sysctl", body)
    script(tmp_path, "/bin/sw_vers", 'echo "14.5"\n')
    return {"PATH": str(tmp_path / "bin")}


@pytest.mark.parametrize("arm64", [True, False])
def test_apple_hardware(tmp_path: Path, arm64: bool) -> None:
    env = fake_sysctl(tmp_path, arm64)
    facts = gather(tmp_path, env=env, os_name="Darwin", ldcache=None)
    assert facts["apple"] == {
        "is_macos": True,
        "macos_version": "14.5",
        "hardware_arm64": arm64,
        "errors": {},
    }
    assert facts["pci"]["error"] == "no PCI listing on Darwin"


def test_apple_without_sysctl(tmp_path: Path) -> None:
    apple = gather(tmp_path, os_name="Darwin")["apple"]
    assert apple["hardware_arm64"] is None and apple["macos_version"] is None
    assert apple["errors"] == {
        "macos_version": "sw_vers not found",
        "hardware_arm64": "sysctl not found",
    }


def test_linux_asks_nothing_of_macos_tools(tmp_path: Path) -> None:
    env = fake_sysctl(tmp_path, arm64=True)
    apple = gather(tmp_path, env=env)["apple"]
    assert apple == {
        "is_macos": False,
        "macos_version": False,
        "hardware_arm64": False,
        "errors": {},
    }
    assert not (tmp_path / "sysctl-ran").exists()


def real_machine_is_the_dev_box() -> bool:
    # The CPU-only development container; on a GPU machine only the cross-check below runs.
    return platform.system() == "Linux" and not Path("/proc/driver/nvidia").exists()


@pytest.mark.skipif(not real_machine_is_the_dev_box(), reason="exact facts of the dev box")
def test_real_machine_has_no_gpu() -> None:
    facts = gather_accelerators(Host())
    jsonschema.validate(facts, SCHEMA)
    assert facts["pci"]["error"] is None
    assert facts["pci"]["nvidia"] == facts["pci"]["amd"] == []
    assert facts["rocm"]["kfd_present"] is False
    assert facts["apple"]["is_macos"] is False


@pytest.mark.skipif(platform.system() != "Linux", reason="Linux sysfs")
def test_real_machine_nvidia_pci_devices_match_a_loaded_driver() -> None:
    facts = gather_accelerators(Host())
    jsonschema.validate(facts, SCHEMA)
    # With the NVIDIA module loaded, its GPUs are bound to it; without one, none is.
    bound = [d for d in facts["pci"]["nvidia"] if d["driver"] == "nvidia"]
    assert bool(bound) == Path("/proc/driver/nvidia").exists()
