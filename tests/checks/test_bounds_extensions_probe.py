"""DD526/DD527 (extensions_probe) from the rule: how an extension's import or call ended (raised,
crashed, hung, wrong numbers), the evidence of its own end only, and the fix each end calls for."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks import extensions_probe as probe
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.model import Facts
from dldoctor.matrix import load
from dldoctor.probes.collect import new_record
from tests.checks.scenarios import dist, with_packages
from tests.checks.test_extensions_probe import _failed

MATRIX = load()
SEGV = {"exit_code": -11, "signal": "SIGSEGV", "timed_out": False, "output_tail": ["t1", "t2"]}


def _facts(
    extensions: dict[str, Any], *dists: dict[str, Any], installed: list | None = None
) -> Facts:
    packages = with_packages(dist("torch", "2.13.0+cpu"), *dists)["packages"]
    if installed is not None:
        packages["extensions"] = {"installed": installed}
    return Facts(
        packages=packages,
        python={"executable": "/env/bin/python", "command": "python"},
        runtime={"ran": True, "timeout_s": 60.0, "frameworks": {}, "extensions": extensions},
    )


def _ended(status: str, during: str, **fields: Any) -> dict[str, Any]:
    record = new_record()
    record.update(status=status, during=during, process=dict(SEGV), **fields)
    record["import"] = None
    return record


def test_an_import_that_crashed_the_child_names_its_signal_and_last_lines():
    record = _ended(
        "crash", "import xformers", reason="crashed with SIGSEGV during import xformers"
    )
    (verdict,) = probe.extension_import_fails(
        _facts({"xformers": record}, dist("xformers", "0.0.33")), MATRIX
    )
    assert verdict.title == (
        "`import xformers` (xformers 0.0.33) crashed with SIGSEGV during import xformers"
    )
    assert verdict.evidence == {
        "framework": "torch",
        "extension": "xformers",
        "version": "0.0.33",
        "module": None,
        "status": "crash",
        "during": "import xformers",
        "cause": None,
        "said": None,
        "error": "",
        "signal": "SIGSEGV",
        "last_output": ["t1", "t2"],
    }
    (remedy,) = verdict.fixes  # no words to go on: a clean copy of its own release
    assert (
        remedy.commands[0][-1] == "xformers==0.0.33" and "--force-reinstall" in remedy.commands[0]
    )


def test_an_import_that_hung_is_rerun_with_a_longer_timeout():
    record = _ended("timeout", "start-up")
    (verdict,) = probe.extension_import_fails(_facts({"flash_attn": record}), MATRIX)
    assert (
        verdict.title
        == "`import flash_attn` (flash_attn) did not finish within 60.0 s and was killed"
    )
    (remedy,) = verdict.fixes
    assert remedy.commands == (("dldoctor", "check", "--timeout", "600"),)


def test_an_extension_that_died_later_than_its_import_is_not_an_import_failure():
    record = _ended("crash", "smoke nms")
    record["import"] = {"module": "torchvision", "ok": True, "error": None, "output": []}
    assert probe.extension_import_fails(_facts({"torchvision": record}), MATRIX) == []


def test_a_raised_import_with_unknown_words_quotes_them_and_keeps_only_its_own_end():
    record = _failed("xformers", "ImportError", "odd words")
    record["process"] = dict(SEGV)  # torch's child ended so later: not this extension's end
    record["output"] = [f"o{i}" for i in range(14)]
    (verdict,) = probe.extension_import_fails(
        _facts({"xformers": record}, dist("xformers", "0.0.33")), MATRIX
    )
    assert verdict.title == "`import xformers` (xformers 0.0.33) fails: ImportError: odd words"
    assert verdict.evidence["signal"] is None
    assert verdict.evidence["module"] == "xformers"
    assert verdict.evidence["last_output"] == [f"o{i}" for i in range(2, 14)]
    assert verdict.detail == "\n".join(f"o{i}" for i in range(2, 14))


def test_an_extensions_static_record_gives_its_framework_and_version():
    static = {"key": "flash-attn", "version": "2.7.4", "framework": "torch", "built_for": {}}
    record = _failed("flash_attn", "ImportError", "odd words")
    (verdict,) = probe.extension_import_fails(
        _facts({"flash-attn": record}, installed=[static]), MATRIX
    )
    assert verdict.title.startswith("`import flash_attn` (flash-attn 2.7.4) fails: ")
    assert verdict.evidence["version"] == "2.7.4" and verdict.evidence["framework"] == "torch"


def _called(**smoke: Any) -> dict[str, Any]:
    record = new_record()
    record.update(status="fail", during="smoke nms")
    record["import"] = {"module": "torchvision", "ok": True, "error": None, "output": []}
    record["smoke"] = [{"test": "nms", "device": "cpu", **smoke}]
    return record


def test_a_call_that_gave_other_numbers_is_an_error_with_both_numbers():
    record = _called(status="fail", expected=[0, 2], got=[0, 1, 2], output=["a", "b"])
    facts = _facts({"torchvision": record}, dist("torchvision", "0.28.0"))
    (verdict,) = probe.extension_call_failed(facts, MATRIX)
    assert verdict.severity.value == "error"
    assert (
        verdict.title
        == "torchvision 0.28.0: nms on cpu gave a wrong result: expected [0, 2], got [0, 1, 2]"
    )
    assert {k: verdict.evidence[k] for k in ("test", "device", "expected", "got", "error")} == {
        "test": "nms", "device": "cpu", "expected": [0, 2], "got": [0, 1, 2], "error": ""
    }  # fmt: skip
    assert verdict.detail == "a\nb"


def test_a_call_that_crashed_says_when_without_a_reason():
    record = _called(status="crash")
    (verdict,) = probe.extension_call_failed(_facts({"torchvision": record}), MATRIX)
    assert verdict.title == "torchvision: nms on cpu ended during smoke nms"


def test_no_probe_run_says_why():
    with pytest.raises(NotApplicable, match=r"^runtime probes did not run$"):
        probe.extension_import_fails(Facts(runtime={"ran": False}), MATRIX)
    with pytest.raises(NotApplicable, match=r"^no extension probes \(a report written before"):
        probe.extension_import_fails(Facts(runtime={"ran": True, "frameworks": {}}), MATRIX)


def test_an_extension_built_for_another_torch_gets_its_build_for_this_torch():
    words = "/env/x/torch_scatter/_scatter_cpu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi"
    record = _failed("torch_scatter", "ImportError", words)
    (verdict,) = probe.extension_import_fails(
        _facts({"torch-scatter": record}, dist("torch-scatter", "2.1.2")), MATRIX
    )
    (remedy,) = verdict.fixes  # the wheel of its index for this torch, not the general advice
    assert remedy.commands[0][-2:] == (
        "--find-links",
        "https://data.pyg.org/whl/torch-2.13.0+cpu.html",
    )


def test_a_crashed_import_names_the_module_it_was_importing():
    """The module (flash_attn) is what the child was importing, not the distribution's name."""
    record = _ended("crash", "import flash_attn", reason="crashed with SIGSEGV")
    (verdict,) = probe.extension_import_fails(_facts({"flash-attn": record}), MATRIX)
    assert verdict.title == "`import flash_attn` (flash-attn) crashed with SIGSEGV"


def test_the_words_are_titled_with_the_extensions_own_framework():
    static = {"key": "tensorrt-cu12", "version": "10.0.1", "framework": "tensorrt", "built_for": {}}
    words = (
        "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory"
    )
    record = _failed("tensorrt", "ImportError", words)
    facts = _facts({"tensorrt-cu12": record}, installed=[static])
    (verdict,) = probe.extension_import_fails(facts, MATRIX)
    assert verdict.title == (
        "`import tensorrt` (tensorrt-cu12 10.0.1) fails: tensorrt could not load libcudart.so.12"
    )
    assert verdict.evidence["framework"] == "tensorrt"


def test_a_hung_imports_fix_says_to_rerun_longer():
    (verdict,) = probe.extension_import_fails(_facts({"x": _ended("timeout", "import x")}), MATRIX)
    assert verdict.fixes[0].summary == "Rerun with a longer timeout to tell slow from stuck."


def test_a_call_that_raised_carries_its_words_as_the_error():
    record = _called(
        status="fail", error={"type": "RuntimeError", "message": "odd", "traceback": []}
    )
    (verdict,) = probe.extension_call_failed(_facts({"torchvision": record}), MATRIX)
    assert verdict.evidence["error"] == "RuntimeError: odd"
    assert verdict.title == "torchvision: nms on cpu failed: RuntimeError: odd"
