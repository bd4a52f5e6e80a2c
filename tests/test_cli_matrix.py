"""`dldoctor check --from` and `dldoctor matrix` as a user runs them (`fix`: test_cli_fix.py)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.document.schema import report_schema
from dldoctor.document.validate import Validator
from dldoctor.facts.model import Facts
from dldoctor.matrix import load

FACTS = Path(__file__).resolve().parent / "data" / "facts"


def dldoctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


@pytest.fixture
def h100_report(tmp_path: Path) -> Path:
    facts = Facts.from_dict(json.loads((FACTS / "h100_cpu_stack.json").read_text()))
    report = Report(
        "dldoctor check", "2026-11-23T00:00:00+00:00", 0.2, facts, tuple(run_checks(facts, load()))
    )
    path = tmp_path / "h100.json"
    path.write_text(json.dumps(report.to_dict()))
    return path


def test_from_rejudges_an_old_report_from_another_machine(h100_report):
    result = dldoctor("check", "--from", str(h100_report))
    assert result.returncode == 1
    assert "dldoctor check --from h100.json" in result.stdout
    assert "PyTorch cannot use the NVIDIA H100 80GB HBM3" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "is not JSON: Expecting value at line 1, column 1"),
        ('{"schema_version": "2.0"}', "uses report schema 2.0; this dldoctor reads 1.x"),
        ('{"hello": 1}', "is not a dldoctor report (no schema_version)"),
    ],
)
def test_a_bad_report_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    result = dldoctor("check", "--from", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"dldoctor: error: {path} {message}"]


def test_a_report_with_a_broken_field_names_the_field(h100_report):
    document = json.loads(h100_report.read_text())
    document["facts"]["nvidia"]["gpus"][0]["memory_total_bytes"] = "eighty"
    h100_report.write_text(json.dumps(document))
    result = dldoctor("check", "--from", str(h100_report))
    assert result.returncode == 2
    assert (
        "facts.nvidia.gpus[0].memory_total_bytes: expected integer or null, got str"
        in result.stderr
    )


def test_our_validator_agrees_with_jsonschema(h100_report):
    document = json.loads(h100_report.read_text())
    mutations = [
        lambda d: d,
        lambda d: d["facts"]["system"].pop("cpu"),
        lambda d: d["findings"][0].update(severity="fatal"),
        lambda d: d["facts"]["cuda"]["toolkits"][0].update(version=13),
        lambda d: d["facts"]["packages"]["distributions"].append({"name": 1}),
        lambda d: d.update(schema_version="1.x"),
        lambda d: d["checks"][0].update(code="X1"),
    ]
    official = jsonschema.Draft202012Validator(report_schema())
    ours = Validator(report_schema())
    for mutate in mutations:
        doc = copy.deepcopy(document)
        mutate(doc)
        assert (ours.errors(doc) is None) == official.is_valid(doc)


def test_matrix_prints_torch_with_cudnn_per_variant():
    result = dldoctor("matrix", "torch")
    assert result.returncode == 0
    assert "13.0 (cuDNN 9.20.0.48)" in result.stdout


def test_matrix_unknown_section_is_exit_2():
    result = dldoctor("matrix", "caffe2")
    assert result.returncode == 2 and "no matrix section 'caffe2'" in result.stderr
