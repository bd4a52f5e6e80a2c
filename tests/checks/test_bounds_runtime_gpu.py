"""What the runtime GPU checks (DD602-DD605) read from a framework's record: the CUDA a driver
supports as CUDA writes it (cuDriverGetVersion's integer), and which records are GPU builds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dldoctor.checks import runtime_gpu
from dldoctor.matrix import load
from tests.checks.scenarios import make_facts

MATRIX = load()


@given(st.integers(1, 20), st.integers(0, 9))
def test_the_drivers_cuda_integer_reads_as_major_dot_minor(major, minor):
    """CUDA writes 13.0 as 13000 and 12.8 as 12080 (major * 1000 + minor * 10)."""
    assert runtime_gpu._driver_cuda(str(major * 1000 + minor * 10)) == f"{major}.{minor}"


def test_a_driver_cuda_that_is_no_integer_is_kept_as_written():
    assert runtime_gpu._driver_cuda("12.8") == "12.8"
    assert runtime_gpu._driver_cuda(None) is None and runtime_gpu._driver_cuda("") == ""


def test_a_record_is_a_gpu_build_by_what_the_framework_said_of_itself():
    facts = make_facts()
    for said in ({"cuda_built": True}, {"compiled_with_cuda": True}, {"hip_version": "6.4"}):
        assert runtime_gpu._gpu_build(facts, MATRIX, "torch", {"info": said}) is True
    for said in ({"cuda_built": False}, {"compiled_with_cuda": False}, {"hip_version": None}, {}):
        assert runtime_gpu._gpu_build(facts, MATRIX, "torch", {"info": said}) is False
    providers = {"available_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    assert runtime_gpu._gpu_build(facts, MATRIX, "onnxruntime", {"info": providers}) is True
    cpu = {"available_providers": ["CPUExecutionProvider"], "cuda_built": True}
    assert runtime_gpu._gpu_build(facts, MATRIX, "onnxruntime", {"info": cpu}) is False
