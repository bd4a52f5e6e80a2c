"""Why a device is unavailable, as the framework said it when a tensor was created there
(schema 1.3's device_errors): read by the failure signatures like every other line."""

from __future__ import annotations

from tests.checks.test_runtime import TORCH_CU121, judge, record, runtime


def test_the_mps_refusal_said_on_tensor_creation_is_the_macos_finding(matrix):
    torch = record(info={"cuda_built": False, "mps_built": True, "mps_available": False})
    torch["device_errors"] = {
        "mps": {
            "error": "RuntimeError: The MPS backend is supported on MacOS 13.0+.Current OS "
            "version can be queried using `sw_vers`",
            "output": [],
        }
    }
    outcomes = judge(matrix, TORCH_CU121, runtime(torch=torch))
    (finding,) = outcomes["DD617"].findings
    assert "13.0" in finding.title
    assert finding.evidence["said"] == [
        "mps device: RuntimeError: The MPS backend is supported on MacOS 13.0+.Current OS "
        "version can be queried using `sw_vers`"
    ]


def test_a_device_that_was_created_fine_says_nothing(matrix):
    torch = record(info={"cuda_built": False, "mps_built": True, "mps_available": False})
    torch["device_errors"] = {"mps": {"error": None, "output": []}}
    outcomes = judge(matrix, TORCH_CU121, runtime(torch=torch))
    assert not outcomes["DD617"].findings
