"""`diff` of two recorded reports: what differs, weightiest first, and one-sided findings."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from dldoctor.document.diff import compare
from dldoctor.matrix import load
from tests.report.golden import report_for

MATRIX = load()


def documents() -> tuple[dict, dict]:
    laptop = report_for("h100_cpu_stack", MATRIX).to_dict()
    cluster = report_for("driver470_cpu_stack", MATRIX).to_dict()
    return json.loads(json.dumps(laptop)), json.loads(json.dumps(cluster))


def test_the_driver_comes_before_the_environment_and_the_kernel_last():
    laptop, cluster = documents()
    cluster = copy.deepcopy(cluster)
    cluster["facts"]["system"]["os"]["kernel"] = "6.18.45-fc-v782"
    cluster["facts"]["env"]["variables"]["LD_LIBRARY_PATH"] = "/opt/old/cudnn/lib"
    torch = next(d for d in cluster["facts"]["packages"]["distributions"] if d["name"] == "torch")
    torch["version"] = "2.12.0+cpu"
    kinds = [d.kind for d in compare(laptop, cluster).differences]
    assert kinds == sorted(kinds, key=["driver", "gpu", "cuda build", "cudnn", "framework",
                                       "nvidia wheel", "loaded library", "environment", "python",
                                       "package", "system", "kernel"].index)  # fmt: skip
    assert kinds[0] == "driver" and kinds[-1] == "kernel"
    names = [d.name for d in compare(laptop, cluster).differences]
    assert names.index("torch") < names.index("LD_LIBRARY_PATH") < names.index("kernel")


def test_the_same_report_twice_differs_in_nothing():
    laptop, _ = documents()
    same = compare(laptop, copy.deepcopy(laptop))
    assert same.differences == () and same.only_a == () and same.only_b == ()


def test_findings_present_on_one_side_only_are_named():
    laptop, cluster = documents()
    compared = compare(laptop, cluster)
    codes_a = {f["code"] for f in laptop["findings"] if f["severity"] in ("error", "warning")}
    codes_b = {f["code"] for f in cluster["findings"] if f["severity"] in ("error", "warning")}
    assert {c for c, _ in compared.only_b} == codes_b - codes_a
    assert {c for c, _ in compared.only_a} == codes_a - codes_b


def test_the_command_prints_ten_lines_for_the_common_case_and_exits_1(tmp_path):
    laptop, cluster = documents()
    for i in range(20):  # many small differences: only the weightiest ten are shown
        cluster["facts"]["env"]["variables"][f"NCCL_VAR_{i:02d}"] = "1"
    (tmp_path / "a.json").write_text(json.dumps(laptop))
    (tmp_path / "b.json").write_text(json.dumps(cluster))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "diff",
            str(tmp_path / "a.json"),
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    differences = [line for line in lines[1:] if line.startswith("  ") and "→" in line]
    assert len(differences) == 10
    assert "NVIDIA driver" in differences[0]
    assert "more difference(s)" in run.stdout
    same = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "diff",
            str(tmp_path / "a.json"),
            str(tmp_path / "a.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert same.returncode == 0 and "the same" in same.stdout


def test_a_markdown_report_compares_like_its_json(tmp_path):
    from dldoctor.report import markdown

    laptop = report_for("h100_cpu_stack", MATRIX)
    cluster = report_for("driver470_cpu_stack", MATRIX)
    (tmp_path / "laptop.md").write_text(markdown.render(laptop))
    (tmp_path / "cluster.json").write_text(json.dumps(cluster.to_dict()))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "diff",
            str(tmp_path / "laptop.md"),
            str(tmp_path / "cluster.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "NVIDIA driver" in run.stdout and "580.65.06 → 470.82.01" in run.stdout
