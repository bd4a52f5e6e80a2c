"""The NVML door: init classification, lazy thread-safe init, queries that never raise."""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any

import pynvml
import pytest

from dldoctor.facts import nvml
from dldoctor.facts.nvml import NotAvailable, Nvml
from tests.fakes.fake_nvml import FakeNvml, fixture_names, load_fake

# The verbatim messages are pynvml's own (NVMLError.__str__), not written by dldoctor.
INIT_ERRORS = [
    ("LibraryNotFound", "library_not_found", "NVML Shared Library Not Found"),
    ("DriverNotLoaded", "driver_not_loaded", "Driver Not Loaded"),
    (
        "LibRmVersionMismatch",
        "lib_rm_version_mismatch",
        "RM has detected an NVML/RM version mismatch.",
    ),
    ("NoPermission", "no_permission", "Insufficient Permissions"),
    ("FunctionNotFound", "function_not_found", "Function Not Found"),
    ("Unknown", "error", "Unknown Error"),
    ("GpuIsLost", "error", "GPU is lost"),
]


def libnvidia_ml_loads() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_initialises_ok(name: str) -> None:
    nv = Nvml(load_fake(name))
    assert nv.init() == "ok"
    assert nv.error is None


def test_fixtures_are_the_six_promised() -> None:
    assert fixture_names() == ["a100x8", "driver470", "h100", "k80", "mig", "rtx5090"]


@pytest.mark.parametrize(("error", "status", "message"), INIT_ERRORS)
def test_init_error_is_classified_with_verbatim_message(
    error: str, status: str, message: str
) -> None:
    fake = load_fake("h100", init_error=error)
    nv = Nvml(fake)
    assert nv.init() == status
    assert nv.error == message
    assert nv.error_code == getattr(pynvml, f"NVMLError_{error}")(0).value


def test_init_error_statuses_are_distinct() -> None:
    statuses = [
        Nvml(load_fake("h100", init_error=e)).init() for e, s, _ in INIT_ERRORS if s != "error"
    ]
    assert len(set(statuses)) == len(statuses) == 5


def test_init_failure_that_is_not_an_nvml_error_is_error_with_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = load_fake("h100")

    def broken() -> None:
        raise OSError("libnvidia-ml.so.1: wrong ELF class: ELFCLASS32")

    monkeypatch.setattr(fake, "nvmlInit", broken)
    nv = Nvml(fake)
    assert nv.init() == "error"
    assert nv.error == "OSError: libnvidia-ml.so.1: wrong ELF class: ELFCLASS32"


def test_pynvml_not_importable_is_module_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    nv = Nvml(None)
    assert nv.init() == "module_missing"
    assert "pynvml" in (nv.error or "")
    assert isinstance(nv.query("nvmlDeviceGetCount"), NotAvailable)


def test_queries_after_failed_init_are_not_available_with_the_init_reason() -> None:
    nv = Nvml(load_fake("h100", init_error="DriverNotLoaded"))
    value = nv.query("nvmlDeviceGetCount")
    assert isinstance(value, NotAvailable)
    assert "Driver Not Loaded" in value.reason
    assert value.code == pynvml.NVML_ERROR_DRIVER_NOT_LOADED


def test_init_is_lazy_and_runs_once_across_threads() -> None:
    fake = FakeNvml(load_fake("a100x8").description, init_delay_s=0.05)
    nv = Nvml(fake)
    assert fake.init_calls == 0
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(nvml.device_count(nv))) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.init_calls == 1
    assert results == [8] * 16


def test_context_manager_shuts_down_what_it_initialised() -> None:
    fake = load_fake("h100")
    with Nvml(fake) as nv:
        assert nv.status == "ok"
        assert fake.refcount == 1
    assert fake.refcount == 0
    assert fake.shutdown_calls == 1


def test_no_shutdown_after_a_failed_init() -> None:
    fake = load_fake("h100", init_error="LibRmVersionMismatch")
    with Nvml(fake):
        pass
    assert fake.shutdown_calls == 0


def test_not_supported_is_a_value_with_reason_and_code() -> None:
    fake = load_fake("rtx5090")
    nv = Nvml(fake)
    h = nvml.handle(nv, 0)
    value = nvml.ecc_enabled(nv, h)
    assert isinstance(value, NotAvailable)
    assert not value
    assert value.reason == "Not Supported"
    assert value.code == pynvml.NVML_ERROR_NOT_SUPPORTED


def test_function_missing_from_an_old_pynvml_is_not_available() -> None:
    fake = load_fake("h100")
    nv = Nvml(fake)
    value = nv.query("nvmlDeviceGetSomethingFromTheFuture", nvml.handle(nv, 0))
    assert isinstance(value, NotAvailable)
    assert "not in this pynvml" in value.reason


def test_query_that_raises_something_else_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = load_fake("h100")

    def broken(handle: Any) -> Any:
        raise ctypes.ArgumentError("argument 1: wrong type")

    monkeypatch.setattr(fake, "nvmlDeviceGetName", broken)
    nv = Nvml(fake)
    value = nvml.name(nv, nvml.handle(nv, 0))
    assert isinstance(value, NotAvailable)
    assert value.reason == "ArgumentError: argument 1: wrong type"


def test_query_first_falls_back_on_an_old_driver() -> None:
    # Driver 470 lacks nvmlDeviceGetTemperatureV and the _v3 process queries.
    nv = Nvml(load_fake("driver470"))
    h = nvml.handle(nv, 0)
    assert nvml.temperature_c(nv, h) == 32
    assert nvml.running_process_count(nv, h) == 0


def test_query_first_reports_the_function_that_exists_when_all_fail() -> None:
    fake = load_fake("h100")
    fake.gpus[0]["errors"] = {
        "nvmlDeviceGetTemperatureV": "FunctionNotFound",
        "nvmlDeviceGetTemperature": "GpuIsLost",
    }
    nv = Nvml(fake)
    value = nvml.temperature_c(nv, nvml.handle(nv, 0))
    assert isinstance(value, NotAvailable)
    assert value.reason == "GPU is lost"  # not the absent newer function's "Function Not Found"
    assert not value.missing_function


def test_query_first_with_every_function_absent_keeps_the_first_reason() -> None:
    fake = load_fake("h100")
    fake.gpus[0]["errors"] = {
        "nvmlDeviceGetTemperatureV": "FunctionNotFound",
        "nvmlDeviceGetTemperature": "LibraryMismatch",
    }
    nv = Nvml(fake)
    value = nvml.temperature_c(nv, nvml.handle(nv, 0))
    assert isinstance(value, NotAvailable)
    assert value.reason == "Function Not Found"
    assert value.missing_function


def test_bytes_from_an_old_pynvml_become_str() -> None:
    nv = Nvml(load_fake("driver470"))
    h = nvml.handle(nv, 0)
    assert nvml.driver_version(nv) == "470.82.01"
    assert nvml.name(nv, h) == "NVIDIA A100-PCIE-40GB"
    assert nvml.pci_bus_id(nv, h) == "00000000:3B:00.0"


@pytest.mark.parametrize(
    ("raw", "expected"), [(13000, "13.0"), (12080, "12.8"), (12090, "12.9"), (11040, "11.4")]
)
def test_cuda_driver_version_is_major_dot_minor(raw: int, expected: str) -> None:
    assert nvml.cuda_driver_version(Nvml(load_fake("h100", cuda_driver_version=raw))) == expected


def test_cuda_driver_version_falls_back_to_v1() -> None:
    fake = load_fake("h100", errors={"nvmlSystemGetCudaDriverVersion_v2": "FunctionNotFound"})
    assert nvml.cuda_driver_version(Nvml(fake)) == "13.0"


def test_real_pynvml_on_this_machine_never_raises() -> None:
    nv = Nvml(None)
    status = nv.init()
    try:
        if libnvidia_ml_loads():
            assert status in nvml.STATUSES
        else:  # this build machine: no driver, so no libnvidia-ml.so.1
            assert status == "library_not_found"
            assert nv.error == "NVML Shared Library Not Found"
            assert isinstance(nvml.device_count(nv), NotAvailable)
    finally:
        nv.shutdown()
