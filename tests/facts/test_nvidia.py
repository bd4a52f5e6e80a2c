"""The nvidia section, gathered from fake NVML modules, fake roots and fake nvidia-smi commands."""

from __future__ import annotations

import ctypes
import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.document.schema import allow_unknown
from dldoctor.facts import reaper
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.nvidia import gather_nvidia
from tests.facts.test_nvml import INIT_ERRORS
from tests.fakes import procs
from tests.fakes.fake_nvml import FakeNvml, fixture_names, load_description, load_fake
from tests.fakes.fsroot import script, write

SCHEMA = allow_unknown(
    json.loads(
        resources.files("dldoctor.document").joinpath("schema/facts-nvidia.json").read_text()
    )
)
SMI_FAILED = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)


def gather(
    tmp_path: Path, fake: Any, ldcache: LdCache | None = None, **host: Any
) -> dict[str, Any]:
    """Gather over a fake root whose PATH holds only ``tmp_path/bin`` (+ /bin for sh)."""
    if not (tmp_path / "root" / "proc" / "modules").exists():
        write(tmp_path / "root", "/proc/modules", "")  # a Linux without the nvidia module
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    h = Host(root=tmp_path / "root", env=env, nvml=fake, **host)
    section = gather_nvidia(h, ldcache if ldcache is not None else LdCache(()))
    jsonschema.validate(section, SCHEMA)
    return section


MIB = 2**20
# name: (driver, cuda, gpu names, compute capability, memory_total_bytes of GPU 0)
EXPECTED = {
    "h100": ("580.65.06", "13.0", ["NVIDIA H100 80GB HBM3"], "9.0", 81559 * MIB),
    "a100x8": ("570.86.15", "12.8", ["NVIDIA A100-SXM4-80GB"] * 8, "8.0", 81920 * MIB),
    "rtx5090": ("575.64.03", "12.9", ["NVIDIA GeForce RTX 5090"], "12.0", 32607 * MIB),
    "k80": ("470.256.02", "11.4", ["Tesla K80"] * 2, "3.7", 11441 * MIB),
    "mig": ("550.54.15", "12.4", ["NVIDIA A100-SXM4-40GB"], "8.0", 40960 * MIB),
    "driver470": ("470.82.01", "11.4", ["NVIDIA A100-PCIE-40GB"], "8.0", 40536 * MIB),
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == fixture_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gathers_its_facts(tmp_path: Path, name: str) -> None:
    driver, cuda, names, capability, memory = EXPECTED[name]
    fake = load_fake(name)
    section = gather(tmp_path, fake)
    assert section["nvml"]["status"] == "ok"
    assert section["nvml"]["nvml_version"] == fake.description["nvml_version"]
    assert section["driver_version"] == driver
    assert section["cuda_driver_version"] == cuda
    assert section["gpu_count"] == len(names)
    assert [g["name"] for g in section["gpus"]] == names
    assert [g["index"] for g in section["gpus"]] == list(range(len(names)))
    assert all(g["compute_capability"] == capability for g in section["gpus"])
    assert section["gpus"][0]["memory_total_bytes"] == memory
    assert len({g["uuid"] for g in section["gpus"]}) == len(names)
    assert section["nvidia_smi"]["ran"] is False
    assert section["errors"] == {}
    assert fake.init_calls == 0  # asked in the NVML child, never in this process


def test_h100_gathers_every_field(tmp_path: Path) -> None:
    gpu = gather(tmp_path, load_fake("h100"))["gpus"][0]
    assert gpu == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": load_fake("h100").gpus[0]["uuid"],
        "pci_bus_id": "00000000:01:00.0",
        "compute_capability": "9.0",
        "memory_total_bytes": 81559 * MIB,
        "memory_used_bytes": 1048576,
        "utilization_gpu_percent": 0,
        "utilization_memory_percent": 0,
        "temperature_c": 31,
        "power_draw_w": 71.234,
        "power_limit_w": 700.0,
        "mig": {"current": False, "pending": False},
        "mig_device_count": 0,
        "mig_devices": [],
        "ecc": {"enabled": True, "volatile_uncorrected": 0, "aggregate_uncorrected": 0},
        "driver_model": False,  # Linux: there is no WDDM/TCC
        "persistence_mode": True,
        "pcie": {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16},
        "running_processes": 0,
        "errors": {},
    }


def test_a100x8_counts_processes_per_gpu(tmp_path: Path) -> None:
    gpus = gather(tmp_path, load_fake("a100x8"))["gpus"]
    assert [g["running_processes"] for g in gpus] == [1, 1, 0, 0, 0, 0, 0, 0]
    assert gpus[7]["pci_bus_id"] == "00000000:BD:00.0"


def test_rtx5090_has_no_mig_and_no_ecc_a_known_absence(tmp_path: Path) -> None:
    gpu = gather(tmp_path, load_fake("rtx5090"))["gpus"][0]
    assert gpu["ecc"] is False  # NVML: Not Supported, the board has none
    assert gpu["mig"] is False
    assert gpu["mig_device_count"] == 0 and gpu["mig_devices"] == []
    assert gpu["errors"] == {}
    assert gpu["pcie"] == {"gen_current": 1, "gen_max": 5, "width_current": 16, "width_max": 16}
    assert gpu["persistence_mode"] is False
    assert gpu["running_processes"] == 2  # graphics processes count too


def test_k80_is_two_devices_read_through_old_driver_fallbacks(tmp_path: Path) -> None:
    gpus = gather(tmp_path, load_fake("k80"))["gpus"]
    assert [g["pci_bus_id"] for g in gpus] == ["00000000:83:00.0", "00000000:84:00.0"]
    assert [g["temperature_c"] for g in gpus] == [35, 36]  # nvmlDeviceGetTemperatureV is absent
    assert [g["running_processes"] for g in gpus] == [0, 0]  # via the _v2 process queries
    assert all(g["errors"] == {} and g["mig"] is False for g in gpus)


@pytest.mark.parametrize("error", ["Unknown", "GpuIsLost", "NoPermission"])
def test_mig_and_ecc_that_cannot_be_asked_are_unknown_with_the_reason(tmp_path, error) -> None:
    description = load_description("rtx5090")
    failing = {"nvmlDeviceGetMigMode": error, "nvmlDeviceGetEccMode": error}
    description["gpus"][0]["errors"] = failing
    gpu = gather(tmp_path, FakeNvml(description))["gpus"][0]
    assert gpu["mig"] is None and gpu["ecc"] is None and gpu["mig_device_count"] is None
    assert set(gpu["errors"]) == {"mig", "ecc"}


def test_mig_enabled_counts_mig_devices(tmp_path: Path) -> None:
    fake = load_fake("mig")
    gpu = gather(tmp_path, fake)["gpus"][0]
    assert gpu["mig"] == {"current": True, "pending": True}
    assert gpu["mig_device_count"] == 2
    assert [m["uuid"] for m in gpu["mig_devices"]] == [
        m["uuid"] for m in fake.gpus[0]["mig_devices"]
    ]
    assert gpu["mig_devices"][0]["memory_total_bytes"] == 19968 * MIB
    assert gpu["utilization_gpu_percent"] is None
    assert gpu["errors"]["utilization_gpu_percent"] == "Not Supported"


def test_strings_as_bytes_from_an_old_pynvml(tmp_path: Path) -> None:
    section = gather(tmp_path, load_fake("driver470"))
    assert section["nvml"]["nvml_version"] == "11.470.82.01"
    assert section["gpus"][0]["uuid"].startswith("GPU-")


def test_per_gpu_not_supported_leaves_the_rest(tmp_path: Path) -> None:
    fake = load_fake("h100")
    fake.gpus[0]["errors"] = {"nvmlDeviceGetPowerUsage": "NotSupported"}
    gpu = gather(tmp_path, fake)["gpus"][0]
    assert gpu["power_draw_w"] is None
    assert gpu["errors"] == {"power_draw_w": "Not Supported"}
    assert gpu["power_limit_w"] == 700.0


def test_ecc_off_has_no_counters(tmp_path: Path) -> None:
    fake = load_fake("h100")
    fake.gpus[0]["ecc_mode"] = [0, 1]  # off now, on after the next reboot
    gpu = gather(tmp_path, fake)["gpus"][0]
    assert gpu["ecc"] == {
        "enabled": False,
        "volatile_uncorrected": None,
        "aggregate_uncorrected": None,
    }
    assert gpu["errors"] == {}


def test_lost_gpu_is_all_null_and_the_others_are_read(tmp_path: Path) -> None:
    fake = load_fake("a100x8")
    fake.gpus[3]["lost"] = True
    gpus = gather(tmp_path, fake)["gpus"]
    assert gpus[3]["name"] is None
    assert gpus[3]["errors"] == {"handle": "GPU is lost"}
    assert [g["name"] is not None for g in gpus].count(True) == 7


@pytest.mark.parametrize(("error", "status", "message"), INIT_ERRORS)
def test_init_error_is_a_status_never_an_exception(
    tmp_path: Path, error: str, status: str, message: str
) -> None:
    section = gather(tmp_path, load_fake("h100", init_error=error))
    assert section["nvml"]["status"] == status
    assert section["nvml"]["error"] == message
    assert section["driver_version"] is None
    assert section["gpu_count"] is None
    assert section["gpus"] == []
    assert section["errors"] == {}  # the init failure is said once, in nvml.error


def test_pynvml_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    section = gather(tmp_path, None)
    assert section["nvml"]["status"] == "module_missing"
    assert section["gpus"] == []


def test_this_machine_with_real_pynvml() -> None:
    section = gather_nvidia(Host())
    jsonschema.validate(section, SCHEMA)
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:  # this build machine: CUDA toolkit, no driver
        assert section["nvml"]["status"] == "library_not_found"
        assert section["gpus"] == []
    else:
        assert section["nvml"]["status"] == "ok"
        assert section["gpu_count"] == len(section["gpus"])


def test_nvidia_smi_failure_is_captured_in_its_own_words(tmp_path: Path) -> None:
    script(tmp_path / "bin", "nvidia-smi", f'echo "{SMI_FAILED}"\nexit 9\n')
    smi = gather(tmp_path, load_fake("h100", init_error="DriverNotLoaded"))["nvidia_smi"]
    assert smi["path"] == str(tmp_path / "bin" / "nvidia-smi")
    assert smi["ran"] is True
    assert smi["exit_code"] == 9
    assert smi["timed_out"] is False
    assert smi["output"] == SMI_FAILED


def test_nvidia_smi_output_is_its_first_lines(tmp_path: Path) -> None:
    script(tmp_path / "bin", "nvidia-smi", "for i in 1 2 3 4 5 6 7; do echo line $i; done\n")
    smi = gather(tmp_path, load_fake("h100", init_error="Unknown"))["nvidia_smi"]
    assert smi["output"] == "line 1\nline 2\nline 3\nline 4\nline 5"


def test_nvidia_smi_is_not_run_when_nvml_works(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script(tmp_path / "bin", "nvidia-smi", f"touch {marker}\n")
    smi = gather(tmp_path, load_fake("h100"))["nvidia_smi"]
    assert smi["path"] is not None
    assert smi["ran"] is False
    assert not marker.exists()


def test_nvidia_smi_that_prints_forever_is_stopped_after_its_first_lines(tmp_path: Path) -> None:
    script(tmp_path / "bin", "nvidia-smi", "exec yes 'NVIDIA-SMI garbage'\n")
    section = gather(tmp_path, load_fake("h100", init_error="Unknown"), command_timeout_s=60)
    smi = section["nvidia_smi"]
    assert smi["ran"] is True and smi["exit_code"] is None
    assert smi["output"] == "\n".join(["NVIDIA-SMI garbage"] * 5)
    assert section["errors"]["nvidia_smi"] == "nvidia-smi printed more than 64 KiB and was stopped"


@pytest.mark.parametrize("keep_stdio", [True, False], ids=["holding-pipes", "detached"])
def test_nvidia_smi_that_leaves_a_sleeper_behind_leaves_nothing(
    tmp_path: Path, keep_stdio: bool
) -> None:
    pidfile = tmp_path / "pid"
    script(tmp_path / "bin", "nvidia-smi", procs.escapee(pidfile, keep_stdio) + "echo failed\n")
    gather(tmp_path, load_fake("h100", init_error="Unknown"))
    pid = procs.wait_for_pid(pidfile)
    try:
        if not keep_stdio:  # nothing showed it stayed: the sweep at the end of the run finds it
            reaper.sweep()
        assert procs.gone(pid)
    finally:
        procs.kill(pid)


def test_hung_nvidia_smi_is_killed_at_the_timeout(tmp_path: Path) -> None:
    script(tmp_path / "bin", "nvidia-smi", "sleep 60\n")
    started = time.monotonic()
    section = gather(tmp_path, load_fake("h100", init_error="Unknown"), command_timeout_s=1)
    elapsed_s = time.monotonic() - started
    assert section["nvidia_smi"]["timed_out"] is True
    assert section["nvidia_smi"]["exit_code"] is None
    assert "nvidia_smi" in section["errors"]
    assert elapsed_s < 3.0


@pytest.mark.parametrize(
    ("content", "version", "open_module"),
    [
        (
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  "
            "Sun Jul 27 07:09:40 UTC 2025\n"
            "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n",
            "580.65.06",
            False,
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  "
            "(dvs-builder@U16-I3-B03-4-3)  Thu Jan 23 22:50:36 UTC 2025\nGCC version:  gcc 12\n",
            "570.86.15",
            True,
        ),
        (
            "NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.230.02  Tue Jan  7 2025\n",
            "535.230.02",
            False,
        ),
    ],
)
def test_proc_driver_version_is_parsed(
    tmp_path: Path, content: str, version: str, open_module: bool
) -> None:
    write(tmp_path / "root", "/proc/driver/nvidia/version", content)
    proc = gather(tmp_path, load_fake("h100"))["proc_driver"]
    assert proc == {
        "text": content.splitlines()[0],
        "version": version,
        "open_kernel_module": open_module,
        "error": None,
    }


def test_proc_driver_absent(tmp_path: Path) -> None:
    proc = gather(tmp_path, load_fake("h100"))["proc_driver"]
    assert proc["version"] is None
    assert proc["error"] == "/proc/driver/nvidia/version is absent"


def test_proc_driver_unrecognised(tmp_path: Path) -> None:
    write(tmp_path / "root", "/proc/driver/nvidia/version", "something else entirely\n")
    proc = gather(tmp_path, load_fake("h100"))["proc_driver"]
    assert proc["text"] == "something else entirely"
    assert proc["version"] is None
    assert proc["error"] == "no NVRM version line recognised"


@pytest.mark.parametrize(
    ("modules", "loaded"),
    [
        ("nvidia_uvm 1794048 0 - Live 0x0\nnvidia 104071168 19 nvidia_uvm, Live 0x0\n", True),
        ("nvidia_uvm 1794048 0 - Live 0x0\nnvidia_drm 126976 0 - Live 0x0\n", False),
    ],
)
def test_kernel_module_from_proc_modules(tmp_path: Path, modules: str, loaded: bool) -> None:
    write(tmp_path / "root", "/proc/modules", modules)
    write(tmp_path / "root", "/sys/module/nvidia/version", "580.65.06\n")
    module = gather(tmp_path, load_fake("h100"))["kernel_module"]
    assert module == {"loaded": loaded, "version": "580.65.06", "secure_boot": None}


def test_kernel_module_without_proc_modules(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    section = gather_nvidia(
        Host(root=tmp_path / "root", env={}, nvml=load_fake("h100")), LdCache(())
    )
    assert section["kernel_module"] == {"loaded": None, "version": None, "secure_boot": None}
    assert section["errors"] == {"kernel_module.loaded": "/proc/modules is absent"}


def test_libcuda_from_the_loader_cache_and_wsl(tmp_path: Path) -> None:
    write(tmp_path / "root", "/usr/lib/wsl/lib/libcuda.so", "")
    cache = LdCache(
        (
            ("libcudart.so.12", "/usr/local/cuda/lib64/libcudart.so.12"),
            ("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
            ("libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so"),
        )
    )
    libcuda = gather(tmp_path, load_fake("h100"), ldcache=cache)["libcuda"]
    assert libcuda == {
        "paths": ["/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so"],
        "wsl_libcuda": True,
    }


def test_fake_answers_like_pynvml_before_init() -> None:
    # The fake refuses queries before nvmlInit, as NVML does; the door must init first.
    fake = FakeNvml(load_fake("h100").description)
    with pytest.raises(Exception, match="Uninitialized"):
        fake.nvmlDeviceGetCount()


SECURE_BOOT = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c4b7e4ab2"


@pytest.mark.parametrize(
    ("files", "secure_boot"),
    [
        ({SECURE_BOOT: b"\x06\x00\x00\x00\x01"}, True),  # attributes, then the value 1
        ({SECURE_BOOT: b"\x06\x00\x00\x00\x00"}, False),
        ({SECURE_BOOT: b"\x06\x00"}, None),  # cut short: not judged
        ({"/sys/firmware/efi/efivars/Boot0000-x": b""}, False),  # UEFI without the variable
        ({"/sys/firmware/acpi/tables/x": b""}, False),  # a BIOS boot: no Secure Boot
        ({}, None),  # no /sys/firmware at all (a container's view): unknown
        ({"/sys/firmware/": None}, None),  # masked by a container runtime: empty, unknown
    ],
)
def test_secure_boot_from_the_uefi_variable(tmp_path: Path, files: dict, secure_boot) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name, content in files.items():
        target = root / name.lstrip("/")
        if content is None:  # a directory
            target.mkdir(parents=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    section = gather_nvidia(Host(root=root, env={}, nvml=load_fake("h100")), LdCache(()))
    assert section["kernel_module"]["secure_boot"] is secure_boot
