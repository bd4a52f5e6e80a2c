"""Unknown in reports: every fact may be null, old (1.0) reports read as today's, pastes may be partial."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.load import facts_from_report, load_report
from dldoctor.document.report import SCHEMA_VERSION, Report
from dldoctor.document.schema import PARTS, report_schema
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.document.validate import Invalid, Validator
from dldoctor.facts.model import Facts
from dldoctor.model import Status

DATA = Path(__file__).resolve().parents[1] / "data"
RECORDED = sorted((DATA / "facts").glob("*.json"))


def _properties(node: Any, where: str = ""):
    """Every (path, schema) of a named property in a schema, at any depth."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.{name}", sub
            yield from _properties(sub, f"{where}.{name}")
        for key, sub in node.items():
            if key != "properties":
                yield from _properties(sub, where)
    elif isinstance(node, list):
        for sub in node:
            yield from _properties(sub, where)


@pytest.mark.parametrize("part", PARTS)
def test_every_fact_of_every_section_may_be_unknown(part):
    schema = report_schema()
    defs = schema["$defs"]
    facts = list(_properties(defs[f"facts-{part}"], part))
    assert facts
    for path, sub in facts:
        scoped = {"$defs": defs[f"facts-{part}"].get("$defs", {}), **sub}
        jsonschema.validate(None, scoped)  # null: unknown, for each one of them
        assert Validator(scoped).errors(None) is None, path


def test_false_is_not_zero_and_true_is_not_one():
    assert Validator({"const": False}).errors(0) is not None
    assert Validator({"enum": [1, 2, False]}).errors(True) is not None
    assert Validator({"enum": [1, 2, False]}).errors(False) is None
    with pytest.raises(Invalid):
        Validator({"anyOf": [{"type": "integer", "minimum": 0}, {"const": False}]}).validate(True)


def _report(facts: dict[str, Any], version: str) -> dict[str, Any]:
    judged = Facts.from_dict(upgrade_facts(copy.deepcopy(facts), version))
    report = Report("dldoctor check", "2026-11-23T00:00:00+00:00", 0.1, judged, ())
    return {**report.to_dict(), "schema_version": version, "facts": facts}


@pytest.mark.parametrize("recorded", RECORDED, ids=[p.stem for p in RECORDED])
def test_a_1_0_report_reads_its_nulls_for_none_as_false(recorded, tmp_path):
    facts = json.loads(recorded.read_text())
    assert facts["system"]["cpu"]["cgroup_quota_cores"] is None  # 1.0: null was "no quota"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_report(facts, "1.0")))
    read = facts_from_report(path)
    assert read.system["cpu"]["cgroup_quota_cores"] is False
    assert read.system["memory"]["cgroup_limit_bytes"] is False
    assert read.system["container"]["kind"] == "docker"  # a value 1.0 knew stays as it was
    assert read.system["wsl"] == {"is_wsl": False, "version": False}
    assert read.cuda["env"] == {"CUDA_HOME": False, "CUDA_PATH": False, "CUDA_ROOT": False}
    torch = read.packages["frameworks"]["torch"]["build"]
    assert torch["cuda"] is False  # torch/version.py said None: a CPU build, not unknown
    assert read.accelerators["rocm"]["path"] is False
    # What 1.0 could not read stays unknown.
    assert read.system["cpu"]["model"] == facts["system"]["cpu"]["model"]
    # A 1.0 report judged today gives what its facts, read as 1.0, give.
    outcomes = {o.code: o.status for o in run_checks(read, _matrix())}
    assert outcomes["DD201"] in (Status.FOUND, Status.SKIPPED)
    jsonschema.validate({**_report(facts, "1.0"), "facts": read.to_dict()}, report_schema())


def test_a_1_1_report_keeps_null_as_unknown(tmp_path):
    facts = json.loads(RECORDED[0].read_text())
    facts["system"]["container"]["kind"] = None
    path = tmp_path / "new.json"
    path.write_text(json.dumps(_report(facts, SCHEMA_VERSION)))
    assert facts_from_report(path).system["container"]["kind"] is None


def test_a_partial_report_reads_what_it_leaves_out_as_unknown(tmp_path):
    """A paste that says only what NVML said: no section is required, and nothing is claimed."""
    document = _report({}, SCHEMA_VERSION)
    document["facts"] = {"nvidia": {"nvml": {"status": None, "error": "(not in the paste)"}}}
    path = tmp_path / "paste.json"
    path.write_text(json.dumps(document))
    facts = Facts.from_dict(load_report(path)["facts"])
    outcomes = run_checks(facts, _matrix())
    assert [f.code for o in outcomes for f in o.findings] == []
    nvml = next(o for o in outcomes if o.code == "DD103")
    assert nvml.status is Status.NOT_JUDGED and "nvidia.nvml.status" in nvml.reason
    assert not [o for o in outcomes if o.status is Status.CRASHED]


def test_the_strict_schema_still_wants_every_key_written(tmp_path):
    document = _report({}, SCHEMA_VERSION)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, report_schema())
    Validator(report_schema(partial=True)).validate(document)


def _matrix():
    from dldoctor.matrix import load

    return load()
