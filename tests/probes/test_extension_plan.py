"""Which installed extensions get their own probe child, and what each child is told."""

from __future__ import annotations

import threading
import time

from dldoctor.facts.model import Facts
from dldoctor.probes import extensions as ext
from dldoctor.probes.probe import ProbeOptions, _probe_group


def facts_with(*names: str) -> Facts:
    return Facts(packages={"distributions": [{"name": n, "version": "1.0"} for n in names]})


def test_a_torch_extension_is_imported_after_torch_with_its_call(matrix):
    plan = ext.make_plan(facts_with("torch", "Flash_Attn", "torchvision"), matrix, ("torch",), None)
    assert plan.jobs == {
        "flash-attn": {"module": "flash_attn", "after": ["torch"], "call": None},
        "torchvision": {"module": "torchvision", "after": ["torch"], "call": "torchvision-nms"},
    }
    assert plan.not_probed == {}


def test_extensions_of_a_framework_not_probed_are_listed_with_the_reason(matrix):
    plan = ext.make_plan(facts_with("torch", "xformers"), matrix, ("jax",), ("jax",))
    assert plan.jobs == {}
    assert plan.not_probed == {"xformers": "torch is not probed"}


def test_a_framework_s_own_module_is_left_to_its_probe(matrix):
    plan = ext.make_plan(facts_with("onnxruntime-gpu"), matrix, ("onnxruntime",), None)
    assert plan.not_probed == {"onnxruntime-gpu": "imported by the onnxruntime probe"}


def test_an_extension_of_an_unprobed_framework_runs_without_framework_filter_only(matrix):
    facts = facts_with("tensorrt", "tensorrt-cu12")
    plan = ext.make_plan(facts, matrix, (), None)
    assert plan.jobs == {"tensorrt": {"module": "tensorrt", "after": [], "call": None}}
    assert plan.not_probed == {"tensorrt-cu12": "its module tensorrt is probed with tensorrt"}
    filtered = ext.make_plan(facts, matrix, ("torch",), ("torch",))
    assert filtered.jobs == {} and set(filtered.not_probed) == {"tensorrt", "tensorrt-cu12"}


def test_the_number_of_children_is_bounded(matrix, monkeypatch):
    specs = [e for e in matrix.tables["extensions"]["extension"] if e["framework"] == "torch"]
    names = [e["name"] for e in specs]
    modules = len({ext.module_of(e) for e in specs})  # mmcv-full is imported as mmcv
    for bound in (modules - 1, modules, modules + 1):  # below, at and above the count
        monkeypatch.setattr(ext, "MAX_EXTENSIONS", bound)
        plan = ext.make_plan(facts_with("torch", *names), matrix, ("torch",), None)
        assert len(plan.jobs) == min(bound, modules)
        left = [n for n, why in plan.not_probed.items() if why.startswith("more than")]
        assert len(left) == max(0, modules - bound)


def test_an_extension_whose_framework_failed_is_skipped_not_failed():
    record = {"import": None, "companions": {"torch": {"ok": False}}, "status": "fail"}
    assert ext.settle(record, {"after": ["torch"]})["status"] == "skip"
    record = {"import": None, "companions": {}, "status": "crash", "during": "import torch"}
    assert ext.settle(record, {"after": ["torch"]})["status"] == "skip"  # torch's own DD607
    record = {"import": None, "companions": {"torch": {"ok": True}}, "status": "crash",
              "during": "import flash_attn"}  # fmt: skip
    assert ext.settle(record, {"after": ["torch"]})["status"] == "crash"


def _run(name, settings, options, where, cancel, deadline):
    return ext.run_extension((name, settings), (options, where, cancel, deadline), _probe_group)


def test_past_the_time_budget_no_child_is_started():
    options = ProbeOptions(python="/nonexistent/python")  # would fail to start if tried
    settings = {"module": "flash_attn", "after": [], "call": None}
    where = (None, "/nonexistent", "/nonexistent/lock", 0)
    records, _ = _run("flash-attn", settings, options, where, threading.Event(), 0.0)
    assert records["flash-attn"]["status"] == "skip"
    assert "probe time" in records["flash-attn"]["reason"]
    cancelled = threading.Event()
    cancelled.set()
    later = time.monotonic() + 3600
    records, _ = _run("flash-attn", settings, options, where, cancelled, later)
    assert records["flash-attn"]["status"] == "interrupted"
    records, _ = _run("flash-attn", settings, options, where, threading.Event(), later)
    assert records["flash-attn"]["status"] == "crash"  # within the budget it was tried
    assert "could not start" in records["flash-attn"]["reason"]
