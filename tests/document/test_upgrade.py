"""Reports of schema 1.2 read as 1.3: the nulls 1.2 still wrote for "none" become false, and only
where 1.2's own facts show it was none (NVML's "Not Supported", an absent driver file)."""

from __future__ import annotations

import copy
from typing import Any

from dldoctor.document.upgrade import upgrade_facts


def _gpu(mig: Any, ecc: Any, errors: dict[str, str]) -> dict[str, Any]:
    return {"index": 0, "mig": mig, "mig_device_count": None, "mig_devices": None, "ecc": ecc,
            "errors": dict(errors)}  # fmt: skip


def _report_1_2(os_name: str = "Linux") -> dict[str, Any]:
    return {
        "system": {
            "os": {"name": os_name},
            "container": {
                "kind": "docker",
                "runtime": None,
                "nvidia": {
                    "host_driver_version": None,
                    "visible_devices": None,
                    "driver_capabilities": None,
                },
            },
            "errors": {},
        },
        "nvidia": {
            "proc_driver": {"error": "/proc/driver/nvidia/version is absent"},
            "gpus": [
                _gpu(None, None, {"mig": "Not Supported", "ecc": "Not Supported"}),
                _gpu(None, None, {"mig": "GPU is lost", "ecc": "GPU is lost"}),
            ],
        },
        "cuda": {},
        "packages": {
            "frameworks": {
                "jax": {"build": {"static": None}},
            }
        },
    }


def test_a_1_2_report_reads_its_nulls_for_none_as_false():
    facts = upgrade_facts(_report_1_2(), "1.2")
    container = facts["system"]["container"]
    assert container["runtime"] is False
    assert container["nvidia"] == {
        "host_driver_version": False,  # 1.2's nvidia section said the file is absent
        "visible_devices": False,
        "driver_capabilities": False,
    }
    unsupported, lost = facts["nvidia"]["gpus"]
    assert unsupported["mig"] is False and unsupported["ecc"] is False
    assert unsupported["errors"] == {} and unsupported["mig_device_count"] == 0
    assert lost["mig"] is None and lost["ecc"] is None  # could not be asked: still unknown
    assert lost["errors"] == {"mig": "GPU is lost", "ecc": "GPU is lost"}
    assert facts["packages"]["frameworks"]["jax"]["build"]["static"] is False
    # Linux: there are no Windows facts to have.
    assert facts["system"]["windows"] is False and facts["cuda"]["dll_search"] is False
    assert unsupported["driver_model"] is False


def test_what_1_2_could_not_read_stays_unknown():
    report = _report_1_2()
    report["nvidia"]["proc_driver"]["error"] = "/proc/driver/nvidia/version is unreadable"
    report["system"]["errors"] = {"container": "internal error"}
    facts = upgrade_facts(report, "1.2")
    assert facts["system"]["container"]["runtime"] is None
    assert facts["system"]["container"]["nvidia"]["host_driver_version"] is None


def test_a_windows_report_from_1_2_has_its_windows_facts_unknown():
    facts = upgrade_facts(_report_1_2("Windows"), "1.2")
    assert "windows" not in facts["system"] and "dll_search" not in facts["cuda"]
    assert "driver_model" not in facts["nvidia"]["gpus"][0]


def test_a_1_3_report_is_read_as_written():
    report = _report_1_2()
    assert upgrade_facts(copy.deepcopy(report), "1.3") == report
