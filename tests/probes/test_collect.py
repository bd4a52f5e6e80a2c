"""One child's messages and ending → a record per framework: statuses, crashes, untrusted input."""

from __future__ import annotations

from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.runner import ChildOutcome

OK_IMPORT = {"type": "import", "framework": "torch", "module": "torch", "ok": True}


def smoke(test: str, status: str, device: str = "cpu", **more: object) -> dict:
    return {
        "type": "smoke",
        "framework": "torch",
        "test": test,
        "device": device,
        "status": status,
        **more,
    }


def feed(records: ChildRecords, *messages: dict) -> list:
    return [records.feed(m) for m in messages]


def test_a_framework_that_imports_and_passes_every_test_passes(tmp_path):
    records = ChildRecords(["torch"], str(tmp_path))
    ended = feed(
        records,
        {"type": "begin", "framework": "torch"},
        OK_IMPORT,
        {"type": "info", "framework": "torch", "key": "cuda_available", "value": False},
        {"type": "info", "framework": "torch", "key": "nccl_version", "error": "RuntimeError: x"},
        {"type": "device", "framework": "torch", "device": {"id": "cpu", "kind": "cpu"}},
        smoke("autograd", "pass", expected=[5.0, 7.0], got=[5.0, 7.0]),
        smoke("memory", "skip", detail="no accelerator"),
        {"type": "end", "framework": "torch"},
    )
    assert ended[-1] == "torch"
    record = records.records["torch"]
    assert record["status"] == "pass" and record["reason"] == ""
    assert record["info"] == {"cuda_available": False}
    assert record["info_errors"] == {"nccl_version": "RuntimeError: x"}
    assert [s["test"] for s in record["smoke"]] == ["autograd", "memory"]


def test_a_failed_import_or_smoke_test_fails_the_framework_with_a_reason(tmp_path):
    records = ChildRecords(["torch"], str(tmp_path))
    error = {"type": "ImportError", "message": "libcudart.so.12: cannot open", "traceback": []}
    feed(records, {"type": "begin", "framework": "torch"})
    feed(records, {**OK_IMPORT, "ok": False, "error": error}, {"type": "end", "framework": "torch"})
    assert (
        records.records["torch"]["reason"]
        == "import failed: ImportError: libcudart.so.12: cannot open"
    )
    records = ChildRecords(["torch"], str(tmp_path))
    feed(records, {"type": "begin", "framework": "torch"}, OK_IMPORT, smoke("train", "fail"))
    feed(records, {"type": "end", "framework": "torch"})
    assert records.records["torch"]["status"] == "fail"
    assert records.records["torch"]["reason"] == "1 smoke test(s) failed: train on cpu"


def test_a_crash_in_a_smoke_test_names_the_test_and_keeps_the_phase_output(tmp_path):
    log = tmp_path / "7-smoke.log"
    log.write_text("Fatal Python error: Segmentation fault\n  File x.py, line 3\n")
    records = ChildRecords(["tensorflow", "keras"], str(tmp_path))
    feed(
        records,
        {"type": "begin", "framework": "tensorflow"},
        {
            "type": "phase",
            "framework": "tensorflow",
            "phase": "smoke matmul on gpu:0",
            "output_file": str(log),
        },
    )
    closed = records.finish(ChildOutcome(returncode=-11, signal="SIGSEGV"), 1 << 30)
    assert closed == ["tensorflow", "keras"]
    tf, keras = records.records["tensorflow"], records.records["keras"]
    assert tf["status"] == "crash" and tf["during"] == "smoke matmul on gpu:0"
    assert tf["reason"] == "crashed with SIGSEGV during smoke matmul on gpu:0"
    assert tf["smoke"] == [
        {"test": "matmul", "device": "gpu:0", "status": "crash", "duration_s": None}
    ]
    assert tf["output"][0] == "Fatal Python error: Segmentation fault"
    assert tf["process"]["signal"] == "SIGSEGV" and tf["process"]["shared_with"] == [
        "tensorflow",
        "keras",
    ]
    assert keras["status"] == "skip"
    assert keras["reason"] == "not run: the child it shared with tensorflow died first"


def test_a_timeout_is_its_own_status(tmp_path):
    records = ChildRecords(["jax"], str(tmp_path))
    feed(
        records,
        {"type": "begin", "framework": "jax"},
        {"type": "phase", "framework": "jax", "phase": "import jax"},
    )
    records.finish(ChildOutcome(returncode=-9, signal="SIGKILL", timed_out=True), None)
    assert records.records["jax"]["status"] == "timeout"
    assert (
        records.records["jax"]["reason"] == "no answer within its timeout during import jax: killed"
    )


def test_an_output_file_outside_the_work_directory_is_never_read(tmp_path):
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("private\n")
    work = tmp_path / "work"
    work.mkdir()
    records = ChildRecords(["jax"], str(work))
    feed(
        records,
        {"type": "begin", "framework": "jax"},
        {"type": "phase", "framework": "jax", "phase": "import jax", "output_file": str(secret)},
    )
    records.finish(ChildOutcome(returncode=-11, signal="SIGSEGV"), None)
    assert records.records["jax"]["output"] == []


def test_untrusted_messages_are_coerced_or_dropped(tmp_path):
    records = ChildRecords(["torch"], str(tmp_path))
    feed(
        records,
        {"type": "begin", "framework": "torch"},
        {"type": "begin", "framework": "not-ours"},
        {"type": "device", "framework": "torch", "device": {"id": 3}},
        {"type": "device", "framework": "torch", "device": "cpu"},
        {"type": "info", "framework": "torch", "key": 7, "value": 1},
        {**OK_IMPORT, "version": "\x1b[31mred\x1b[0m", "output": ["a\x00b"] * 500},
        smoke("graph", "weird-status", got={"k": list(range(1000))}),
        {"type": "end", "framework": "torch"},
    )
    record = records.records["torch"]
    assert record["devices"] == [] and record["info"] == {}
    assert record["import"]["version"] == "red"  # the colour codes dropped whole
    assert len(record["import"]["output"]) == 40 and record["import"]["output"][0] == "a\ufffdb"
    assert record["smoke"][0]["status"] == "fail" and len(record["smoke"][0]["got"]["k"]) == 60


def test_a_child_that_could_not_start_crashes_every_framework_it_had(tmp_path):
    records = ChildRecords(["torch", "keras"], str(tmp_path))
    records.finish(ChildOutcome(error="No such file or directory"), None)
    for record in records.records.values():
        assert record["status"] == "crash"
        assert record["reason"] == "the probe could not start: No such file or directory"


def test_libraries_keep_the_stage_they_were_first_mapped_in_and_versions_their_errors(tmp_path):
    records = ChildRecords(["torch"], str(tmp_path))
    cudart = {"name": "libcudart.so.12", "path": "/w/nvidia/cuda_runtime/lib/libcudart.so.12"}
    cudnn = {"name": "libcudnn_cnn.so.9", "path": "/w/nvidia/cudnn/lib/libcudnn_cnn.so.9"}
    feed(
        records,
        {"type": "begin", "framework": "torch"},
        OK_IMPORT,
        {"type": "libraries", "framework": "torch", "stage": "import", "libraries": [cudart]},
        {"type": "libraries", "framework": "torch", "stage": "facts", "libraries": [cudart]},
        {"type": "libraries", "framework": "torch", "stage": "bogus", "libraries": [cudart, cudnn]},
        {
            "type": "version",
            "framework": "torch",
            "library": "cudnn",
            "built": "9.1.0",
            "runtime": {"error": "RuntimeError: cuDNN version incompatibility"},
            "how": "torch._C._cudnn",
        },
        {
            "type": "device_error",
            "framework": "torch",
            "device": "mps",
            "error": "RuntimeError: The MPS backend is supported on MacOS 12.3+",
            "output": ["\x1b[31mwarned\x1b[0m"],
        },
        {"type": "end", "framework": "torch"},
    )
    record = records.records["torch"]
    assert [(lib["name"], lib["loaded_by"]) for lib in record["libraries"]] == [
        ("libcudart.so.12", "import"),
        ("libcudnn_cnn.so.9", "end"),  # an unknown stage is the end's
    ]
    assert record["versions"]["cudnn"] == {
        "built": "9.1.0",
        "runtime": None,
        "how": "torch._C._cudnn",
        "errors": {"runtime": "RuntimeError: cuDNN version incompatibility"},
    }
    assert record["device_errors"]["mps"]["error"].endswith("supported on MacOS 12.3+")
    assert "\x1b" not in record["device_errors"]["mps"]["output"][0]
