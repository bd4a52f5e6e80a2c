"""Reading a report back: bounded in size and depth, one clear error, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document import load
from dldoctor.document.load import MAX_DEPTH, ReportError, load_report
from dldoctor.document.report import Report
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix

FACTS = Path(__file__).resolve().parents[1] / "data" / "facts"


@pytest.fixture
def report_text(matrix: Matrix) -> str:
    facts = Facts.from_dict(json.loads((FACTS / "h100_cpu_stack.json").read_text()))
    outcomes = tuple(run_checks(facts, matrix))
    report = Report("dldoctor check", "2026-11-23T00:00:00+00:00", 0.2, facts, outcomes)
    return json.dumps(report.to_dict(), indent=2)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_a_real_report_loads(tmp_path: Path, report_text: str):
    path = tmp_path / "r.json"
    path.write_text(report_text)
    assert load_report(path)["facts"]["nvidia"]["gpu_count"] == 1


@pytest.mark.parametrize(("slack", "accepted"), [(1, True), (0, True), (-1, False)])
def test_the_size_limit_is_exact(tmp_path, report_text, monkeypatch, slack, accepted):
    path = tmp_path / "r.json"
    path.write_text(report_text)
    monkeypatch.setattr(load, "MAX_REPORT_BYTES", len(report_text.encode()) + slack)
    if accepted:
        assert load_report(path)["schema_version"]
    else:
        with pytest.raises(ReportError, match="is larger than"):
            load_report(path)


def test_dev_zero_is_refused_after_reading_at_most_the_limit():
    with pytest.raises(ReportError) as why:
        load_report(Path("/dev/zero"))
    assert str(why.value) == "/dev/zero is larger than 16 MiB: not a dldoctor report"


def test_a_huge_file_is_refused(tmp_path: Path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: 1 GiB of nothing
        f.truncate(1 << 30)
    with pytest.raises(ReportError, match="is larger than 16 MiB"):
        load_report(path)


@pytest.mark.parametrize(
    ("depth", "accepted"), [(MAX_DEPTH - 1, True), (MAX_DEPTH, True), (MAX_DEPTH + 1, False)]
)
def test_the_depth_limit_is_exact(tmp_path, report_text, depth, accepted):
    document = json.loads(report_text)
    document["facts"]["extra"] = nested(depth - 2)  # the report, facts, then depth - 2 lists
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document))
    if accepted:  # the schema lets a section carry what a newer dldoctor adds
        assert load_report(path)["facts"]["extra"] == document["facts"]["extra"]
    else:
        with pytest.raises(ReportError, match=f"nests deeper than {MAX_DEPTH} levels"):
            load_report(path)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_past_the_recursion_limit_is_one_error(tmp_path: Path, depth: int):
    path = tmp_path / "deep.json"
    path.write_text('{"schema_version": "1.0", "x": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(ReportError, match=f"nests deeper than {MAX_DEPTH} levels"):
        load_report(path)


def test_a_12_report_whose_runtime_records_predate_the_library_facts_is_read_and_judged(
    tmp_path: Path, report_text: str, matrix: Matrix
):
    document = json.loads(report_text)
    document["schema_version"] = "1.2"
    site = "/env/lib/python3.11/site-packages"
    system = "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12.1.105"
    own = f"{site}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
    record = {
        "status": "pass", "reason": "", "import": {"module": "torch", "ok": True, "error": None},
        "info": {}, "devices": [], "smoke": [], "process": {},
        # 1.2: a library had name, path, version and source only; no versions, failed loads
        "libraries": [{"name": "libnvJitLink.so.12.1.105", "path": system, "version": "12.1.105",
                       "source": "CUDA toolkit /usr/local/cuda-12.1"}],
    }  # fmt: skip
    document["facts"]["runtime"] = {"ran": True, "frameworks": {"torch": record}}
    candidates = [
        {
            "path": "/usr/local/cuda/lib64/libnvJitLink.so.12",
            "real": system,
            "via": "LD_LIBRARY_PATH",
        },
        {"path": own, "real": own, "via": "runpath"},
    ]
    libraries = {"nvjitlink": {"requested": None, "candidates": candidates}}
    document["facts"]["cuda"]["library_map"] = {
        "copies": {}, "errors": {}, "frameworks": {"torch": {"libraries": libraries}},
    }  # fmt: skip
    document["facts"]["env"].setdefault("variables", {})["LD_LIBRARY_PATH"] = (
        "/usr/local/cuda/lib64"
    )
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    facts = Facts.from_dict(load_report(path)["facts"])
    (outcome,) = [o for o in run_checks(facts, matrix) if o.code == "DD619"]
    (finding,) = outcome.findings  # the library's key comes from its file name
    assert system in finding.title and "from LD_LIBRARY_PATH" in finding.title
