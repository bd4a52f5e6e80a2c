"""nvidia-smi's table across driver generations and platforms, parsed as the pure function it is."""

from __future__ import annotations

from dldoctor.triage.nvidia_smi import parse
from dldoctor.triage.text import unwrap

WINDOWS_551 = """
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 551.86                 Driver Version: 551.86         CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                     TCC/WDDM  | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 3060      WDDM  |   00000000:01:00.0  On |                  N/A |
| 30%   35C    P8             15W /  170W |     812MiB /  12288MiB |      3%      Default |
+-----------------------------------------+------------------------+----------------------+
"""
# Before CUDA 10's drivers (410) the header had no "CUDA Version".
LINUX_384 = """
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 384.81                 Driver Version: 384.81                    |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
|===============================+======================+======================|
|   0  Tesla K80           Off  | 00000000:00:1E.0 Off |                    0 |
| N/A   42C    P0    58W / 149W |      0MiB / 11439MiB |     97%      Default |
+-------------------------------+----------------------+----------------------+
"""


def facts_of(text: str) -> dict:
    found = parse(unwrap(text))
    assert len(found) == 1
    return found[0].facts


def test_a_windows_table_gives_driver_gpu_and_memory():
    nvidia = facts_of(WINDOWS_551)["nvidia"]
    assert nvidia["driver_version"] == "551.86" and nvidia["cuda_driver_version"] == "12.4"
    assert nvidia["gpus"] == [
        {
            "index": 0,
            "pci_bus_id": "00000000:01:00.0",
            "name": "NVIDIA GeForce RTX 3060",
            "memory_total_bytes": 12288 << 20,
            "memory_used_bytes": 812 << 20,
        }
    ]


def test_an_old_header_without_cuda_leaves_it_unknown():
    nvidia = facts_of(LINUX_384)["nvidia"]
    assert nvidia["driver_version"] == "384.81"
    assert "cuda_driver_version" not in nvidia  # unknown, not "none"
    assert nvidia["gpus"][0]["name"] == "Tesla K80"


def test_no_devices_is_an_empty_list_and_failures_are_nvml_statuses():
    found = facts_of(
        "| NVIDIA-SMI 535.54.03   Driver Version: 535.54.03   CUDA Version: 12.2 |\nNo devices were found"
    )
    assert found["nvidia"]["gpus"] == [] and found["nvidia"]["gpu_count"] == 0
    failed = facts_of(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running."
    )
    assert failed["nvidia"]["nvml"]["status"] == "driver_not_loaded"


def test_prose_that_mentions_nvidia_smi_is_no_table():
    assert parse(unwrap("I ran nvidia-smi and it shows my GPU, Driver Version 535")) == []
