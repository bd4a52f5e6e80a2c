"""Under torchrun: 2 processes on one node (one gatherer), and 4 on two nodes with other facts."""

from __future__ import annotations

import socket
from pathlib import Path

from dldoctor.document.schema import cluster_report_schema, report_schema
from dldoctor.document.validate import Validator
from dldoctor.matrix import Matrix
from tests.cluster import launching, nodes


def host() -> str:
    return "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-_")


def test_two_processes_on_one_node_gather_once(tmp_path: Path) -> None:
    port = launching.free_port()
    args = ("--quick", "--json", "cluster.json")
    proc = launching.torchrun(2, port, args, tmp_path)
    with launching.reaped(proc):
        ended = launching.wait(proc)
    report = ended.report(tmp_path / "cluster.json")
    assert Validator(cluster_report_schema()).errors(report) is None
    assert report["launch"]["launcher"] == "torchrun"
    (node,) = report["nodes"]
    assert node["ranks"] == [0, 1] and node["reported"]
    # One gatherer: local rank 0 wrote the node's report, local rank 1 gathered nothing.
    assert [p.name for p in tmp_path.glob("cluster.node*.json")] == ["cluster.node0.json"]
    own = launching.Ended(0, "", "").report(tmp_path / "cluster.node0.json")
    assert Validator(report_schema()).errors(own) is None
    tests = report["cluster"]["tests"]
    assert tests["all-reduce"]["passed"] == [0, 1] and tests["barrier"]["passed"] == [0, 1]
    band = tests["bandwidth"]
    assert band["busbw_bytes_per_s"] == band["algbw_bytes_per_s"] * 2 * (2 - 1) / 2
    # torchrun's own exit code is the worst of its ranks': rank 0's is the report's.
    assert ended.code == report["summary"]["exit_code"]
    assert "Ranks: all 2 joined and finished" in ended.out


def test_four_processes_on_two_nodes_with_other_facts(tmp_path: Path, matrix: Matrix) -> None:
    for node in (0, 1):
        nodes.write_report(tmp_path / f"node{node}.json", nodes.facts(matrix, cpu_torch=node == 1))
    facts = {"DLDOCTOR_CLUSTER_FACTS": str(tmp_path / "node{node}.json")}
    port = launching.free_port()
    args = ("--json", "cluster.json")
    agents = [
        launching.torchrun(2, port, args, tmp_path, nnodes=2, node_rank=n, **facts) for n in (0, 1)
    ]
    with launching.reaped(*agents):
        ended = [launching.wait(a) for a in agents]
    report = ended[0].report(tmp_path / "cluster.json")
    assert Validator(cluster_report_schema()).errors(report) is None
    labels = [f"{host()}#0", f"{host()}#1"]  # one machine: the node's index tells them apart
    assert [(n["label"], n["ranks"]) for n in report["nodes"]] == [
        (labels[0], [0, 1]),
        (labels[1], [2, 3]),
    ]
    tests = report["cluster"]["tests"]
    assert tests["all-reduce"]["passed"] == [0, 1, 2, 3]  # each rank saw 1+2+3+4
    assert {r["rank"]: r["tests"][1]["got"] for r in report["ranks"]} == {
        r: [10.0] for r in range(4)
    }
    (split,) = [f for f in report["findings"] if f["code"] == "DD807"]
    assert split["evidence"]["field"] == "framework:torch"
    (group,) = report["node_findings"]
    assert (group["code"], group["nodes"]) == ("DD201", [labels[1]])
    assert report["summary"]["exit_code"] == 1 and ended[0].code == 1
