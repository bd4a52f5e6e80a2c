"""DD526-DD527 from recorded extension probe records, and how they fold under static findings."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks.extensions_probe import extension_call_failed, extension_import_fails
from dldoctor.checks.registry import NotApplicable
from dldoctor.diagnosis import diagnose
from dldoctor.facts.model import Facts
from dldoctor.model import Area, Finding, Severity
from dldoctor.probes.collect import new_record
from tests.checks.scenarios import dist, with_packages

UNDEFINED = (
    "/env/lib/python3.11/site-packages/xformers/_C.so: undefined symbol: _ZN3c104cuda9SetDeviceEi"
)


def _facts(extensions: dict[str, Any], *dists: dict[str, Any]) -> Facts:
    packages = with_packages(dist("torch", "2.13.0+cpu"), *dists)["packages"]
    return Facts(
        packages=packages,
        runtime={"ran": True, "timeout_s": 60.0, "frameworks": {}, "extensions": extensions},
    )


def _failed(module: str, kind: str, message: str) -> dict[str, Any]:
    record = new_record()
    record.update(status="fail", reason="import failed")
    record["import"] = {
        "module": module, "ok": False, "version": None, "file": None, "duration_s": 1.0,
        "error": {"type": kind, "message": message, "traceback": []}, "warnings": [], "output": [],
    }  # fmt: skip
    return record


def test_an_old_report_without_extension_probes_judges_nothing(matrix):
    facts = Facts(runtime={"ran": True, "frameworks": {}})
    with pytest.raises(NotApplicable):
        extension_import_fails(facts, matrix)
    with pytest.raises(NotApplicable):
        extension_call_failed(Facts(runtime={"ran": False, "reason": "--quick"}), matrix)


def test_an_undefined_c10_symbol_names_the_extension_s_build_for_this_torch(matrix):
    facts = _facts(
        {"xformers": _failed("xformers", "ImportError", UNDEFINED)}, dist("xformers", "0.0.33")
    )
    (verdict,) = extension_import_fails(facts, matrix)
    assert verdict.evidence["cause"] == "extension-build-mismatch"
    assert verdict.title == (
        "`import xformers` (xformers 0.0.33) fails: _C.so was built against another torch than "
        "the installed one (undefined symbol _ZN3c104cuda9SetDeviceEi)"
    )
    assert verdict.fixes  # the signature's advice: a build for the installed torch


def test_an_interrupted_probe_judges_nothing(matrix):
    record = _failed("xformers", "ImportError", UNDEFINED)
    record["status"] = "interrupted"
    assert extension_import_fails(_facts({"xformers": record}), matrix) == []


def test_torchvision_built_for_another_torch_gets_the_paired_release(matrix):
    record = new_record()
    record["import"] = {"module": "torchvision", "ok": True, "error": None, "output": []}
    record["status"] = "fail"
    record["smoke"] = [{
        "test": "nms", "device": "cpu", "status": "fail",
        "error": {"type": "RuntimeError", "message": "operator torchvision::nms does not exist",
                  "traceback": []},
    }]  # fmt: skip
    facts = _facts({"torchvision": record}, dist("torchvision", "0.20.1"))
    (verdict,) = extension_call_failed(facts, matrix)
    assert verdict.evidence["cause"] == "companion-operator"
    assert verdict.title == (
        "torchvision 0.20.1: nms on cpu failed: RuntimeError: operator torchvision::nms does not exist"
    )
    command = verdict.fixes[0].commands[0]
    assert "torchvision==0.28.*" in command  # the release paired with torch 2.13


def _finding(code: str, **evidence: Any) -> Finding:
    return Finding(code, Severity.ERROR, code, Area.PACKAGES, evidence=evidence)


@pytest.mark.parametrize("code", ["DD520", "DD521", "DD523", "DD528"])
def test_a_static_finding_folds_its_own_extension_s_probe_only(code):
    static = _finding(code, framework="torch", extension="flash-attn")
    mine = _finding(
        "DD526", framework="torch", extension="flash-attn", cause="extension-build-mismatch"
    )
    other = _finding(
        "DD526", framework="torch", extension="xformers", cause="extension-build-mismatch"
    )
    judged = diagnose([static, mine, other]).findings
    assert sorted((f.code, f.evidence["extension"]) for f in judged) == sorted(
        [(code, "flash-attn"), ("DD526", "xformers")]
    )
    (root,) = [f for f in judged if f.code == code]
    assert [e["code"] for e in root.explains] == ["DD526"]
