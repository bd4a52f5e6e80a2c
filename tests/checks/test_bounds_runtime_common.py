"""What every runtime check reads of a probe's record (runtime_common): each place a framework's
words are recorded, in order and named; which records are judged; devices, labels, versions."""

from __future__ import annotations

import pytest

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.registry import NotApplicable
from tests.checks.scenarios import dist, make_facts, with_packages
from tests.checks.test_runtime import TORCH_CU121, error, record, runtime


def test_every_place_a_framework_speaks_is_read_and_named():
    rec = record(
        status="crash",
        info_errors={"cuda_version": "raised X"},
        info={
            "cuda_init_error": "init failed",
            "gpu_error": "gpu failed",
            "backend_errors": {"cuda": "cuda said", "tpu": "tpu noise", "rocm": "rocm said"},
            "providers_loaded": {
                "CUDAExecutionProvider": {"loaded": False, "log": ["a", "b"]},
                "TensorrtExecutionProvider": {"loaded": True, "log": ["fine"]},
            },
        },
        device_errors={"cuda": {"error": "device said"}, "xpu": {"error": None}},
        companions={"torchvision": {"module": "torchvision", "error": error("E", "comp")}},
        smoke=[
            {"test": "matmul", "device": "cuda:0", "error": error("E", "smoke"), "output": ["o1"]},
            {"test": "onnx-export", "device": "cpu", "error": error("E", "not ours")},
        ],
        warnings=["w1"],
        output=["out1"],
        process={"output_tail": ["last"]},
    )
    rec["import"] = {
        "module": "torch",
        "ok": False,
        "error": error("ImportError", "boom"),
        "warnings": ["iw"],
        "output": ["io"],
    }
    assert list(rt.texts(rec)) == [
        ("import", "ImportError: boom"),
        ("import output", "iw\nio"),
        ("import torchvision", "E: comp"),
        ("cuda_version", "raised X"),
        ("cuda_init_error", "init failed"),
        ("gpu_error", "gpu failed"),
        ("cuda device", "device said"),
        ("cuda backend", "cuda said"),
        ("rocm backend", "rocm said"),
        ("CUDAExecutionProvider", "a\nb"),
        ("matmul on cuda:0", "E: smoke"),
        ("matmul on cuda:0 output", "o1"),
        ("warnings", "w1"),
        ("output", "out1"),
        ("import warnings", "iw"),
        ("import output", "io"),
        ("last output", "last"),
    ]


@pytest.mark.parametrize(("status", "read"), [("crash", True), ("timeout", True), ("fail", False)])
def test_the_last_output_is_read_only_of_a_probe_that_died(status, read):
    rec = record(status=status, process={"output_tail": ["last"]})
    assert (("last output", "last") in list(rt.texts(rec))) is read


def test_an_error_is_its_type_and_message_or_its_type_alone():
    assert rt.error_text({"type": "ImportError", "message": " no "}) == "ImportError: no"
    assert rt.error_text({"type": None, "message": "m"}) == "Error: m"
    assert rt.error_text({"type": "SystemExit", "message": ""}) == "SystemExit"
    assert rt.error_text("text") == ""


def test_the_first_line_is_the_first_with_words_cut_at_the_limit():
    assert rt.first_line("\n  \n  first  \nsecond") == "first"
    assert rt.first_line("") == ""
    assert rt.first_line("x" * 400) == "x" * 299 + "…"
    assert rt.first_line("x" * 300) == "x" * 300


def test_probed_records_leave_out_interrupted_ones_and_say_why_none_ran():
    facts = make_facts(runtime(torch=record(), jax=record(status="interrupted")))
    assert list(rt.probed(facts)) == ["torch"]
    section = runtime()
    section["runtime"].update(ran=False, reason="--quick")
    with pytest.raises(NotApplicable, match=r"^--quick$"):
        rt.probed(make_facts(section))
    section["runtime"]["reason"] = None
    with pytest.raises(NotApplicable, match=r"^runtime probes did not run$"):
        rt.probed(make_facts(section))


def test_accelerators_are_every_device_but_the_cpu_and_the_backend_default():
    rec = record(
        devices=[
            {"id": "cpu", "kind": "cpu"},
            {"id": "default", "kind": "backend default"},
            {"id": "cuda:0", "kind": "cuda"},
            "not a device",
        ]
    )
    assert rt.accelerators(rec) == [{"id": "cuda:0", "kind": "cuda"}]


def test_a_frameworks_distribution_is_its_main_one_not_a_plugin_or_companion():
    frame = {
        "distributions": [
            {"name": "tensorflow-metal", "version": "1.1"},
            {"name": "tf-keras", "version": "2.16"},
            {"name": "tensorflow-macos", "version": "2.16.1"},
        ]
    }
    facts = make_facts(with_packages(frameworks={"tensorflow": frame}))
    assert rt.distribution(facts, "tensorflow") == {"name": "tensorflow-macos", "version": "2.16.1"}
    installed = make_facts(TORCH_CU121)
    assert rt.distribution(installed, "torch")["location"].startswith("/env/")  # the installed one
    unnamed = make_facts(with_packages(frameworks={"torch": {"distributions": [{"version": "1"}]}}))
    assert rt.distribution(unnamed, "torch") == {"name": "", "version": "1"}


def test_a_version_label_is_what_the_import_said_else_the_distribution():
    facts = make_facts(with_packages(dist("torch", "2.5.1"), frameworks={
        "torch": {"distributions": [{"name": "torch", "version": "2.5.1"}]}}))  # fmt: skip
    unsaid = record()
    unsaid["import"] = {"module": "torch", "ok": True, "version": None}
    assert rt.version_label(facts, "torch", unsaid) == "PyTorch 2.5.1"
    assert rt.version_label(facts, "torch", record()) == "PyTorch 2.5.1+cu121"
    assert rt.version_label(make_facts(), "mylib", {"import": None}) == "mylib"
