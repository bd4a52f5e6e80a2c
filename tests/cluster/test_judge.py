"""The cluster judge on rank 0's view, built as the child writes it (the store's JSON strings)."""

from __future__ import annotations

import json
from typing import Any

from dldoctor.cluster.judge import differences, group_node_findings, judge
from dldoctor.cluster.state import assemble
from dldoctor.matrix import Matrix
from tests.cluster import nodes

JSON = dict[str, Any]
NCCL_SHM = "ubuntu:9621:9685 [0] misc/shmutils.cc:112 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-zTYolS (size 5967872)"


def rank_entry(rank: int, node: int, host: str, payload: str | None = None, **result: Any) -> JSON:
    entry: JSON = {
        "who": json.dumps({"rank": rank, "node": node, "host": host, "local_rank": 0}),
        "result": json.dumps(
            {
                "rank": rank,
                "backend": "gloo",
                "tests": result.pop("tests", [{"test": "barrier", "status": "pass"}]),
                "error": {"message": result["error"]} if result.get("error") else None,
                "nccl": result.pop("nccl", []),
            }
        ),
        "stage": result.get("stage", "bandwidth"),
    }
    if payload is not None:
        entry["node"] = payload
    return entry


def about_ranks(matrix: Matrix, cluster: JSON, world: int, timeout_s: float = 5.0) -> list[Any]:
    """The findings about ranks and collectives (these nodes sent no reports: DD808 left out)."""
    findings = judge(assemble(world, cluster), timeout_s, matrix.signatures)
    return [f for f in findings if f.code != "DD808"]


def cluster_of(matrix: Matrix, variants: list[JSON]) -> JSON:
    """One rank per node, node i on host gpu0<i>, with the facts of ``variants[i]``."""
    ranks = {}
    for i, variant in enumerate(variants):
        host = f"gpu0{i}"
        recorded = nodes.facts(matrix, **variant)
        ranks[str(i)] = rank_entry(i, i, host, nodes.node_payload(matrix, i, host, i, recorded))
    return {"join": {"ok": True, "missing": []}, "lost": [], "ranks": ranks}


def test_the_node_unlike_the_majority_is_named_with_its_fix(matrix: Matrix) -> None:
    state = assemble(3, cluster_of(matrix, [{}, {"cpu_torch": True}, {}]))
    findings = differences(state.nodes)
    assert [f.code for f in findings] == ["DD806"]
    (finding,) = findings
    assert finding.severity.value == "error"
    assert finding.title.startswith(
        "gpu01: torch 2.7.1+cpu (CPU build), the other 2 nodes torch 2.7.1+cu128"
    )
    assert finding.evidence["nodes"] == {"gpu01": "torch 2.7.1+cpu (CPU build)"}
    (intent,) = finding.fixes[0].intents
    assert intent.requirements == ("torch==2.7.1+cu128",) and intent.framework == "torch"


def test_each_nodes_own_findings_are_grouped_by_node(matrix: Matrix) -> None:
    state = assemble(4, cluster_of(matrix, [{}, {"cpu_torch": True}, {}, {"cpu_torch": True}]))
    groups = group_node_findings(state.nodes)
    assert [(g.finding.code, g.nodes) for g in groups] == [("DD201", ("gpu01", "gpu03"))]
    assert groups[0].to_dict()["node_list"] == "gpu[01,03]"


def test_no_majority_is_a_split_not_a_guess(matrix: Matrix) -> None:
    state = assemble(2, cluster_of(matrix, [{}, {"cpu_torch": True}]))
    (finding,) = differences(state.nodes)
    assert finding.code == "DD807"
    assert "gpu00" in finding.title and "gpu01" in finding.title
    assert not finding.fixes[0].intents  # no side to take


def test_an_environment_variable_only_some_nodes_set(matrix: Matrix) -> None:
    odd = {"env": {"NCCL_SOCKET_IFNAME": "eth9", "PATH": "/x"}}
    plain = {"env": {"PATH": "/y"}}  # PATH differs too, but it is not a shared fact
    state = assemble(3, cluster_of(matrix, [plain, odd, plain]))
    (finding,) = differences(state.nodes)
    assert finding.title == "gpu01: NCCL_SOCKET_IFNAME=eth9, the other 2 nodes unset"
    (intent,) = finding.fixes[0].intents
    assert (intent.action, intent.variable) == ("unset", "NCCL_SOCKET_IFNAME")


def test_an_unknown_fact_is_not_a_difference(matrix: Matrix) -> None:
    state = assemble(3, cluster_of(matrix, [{}, {}, {}]))
    state.nodes[1].fields["driver"] = None  # that node could not read its driver
    state.nodes[2].fields.pop("nccl")
    state.nodes[2].sections.remove("nccl")  # nor knew its NCCL
    assert differences(state.nodes) == []


def test_differences_the_different_build_brings_are_its_evidence(matrix: Matrix) -> None:
    state = assemble(3, cluster_of(matrix, [{}, {"cpu_torch": True}, {}]))
    state.nodes[1].fields["nccl"] = "nvidia-nccl-cu12 2.21.5"  # came with that torch
    (finding,) = differences(state.nodes)
    assert finding.code == "DD806" and "torch" in finding.title
    assert any("NCCL" in b for b in finding.evidence["brings"])


def test_a_rank_that_never_joined_is_named_with_its_node(matrix: Matrix) -> None:
    ranks = {str(r): rank_entry(r, r // 2, f"node-{'ab'[r // 2]}") for r in (0, 1, 2)}
    cluster = {"join": {"ok": False, "missing": [3]}, "lost": [], "ranks": ranks}
    findings = judge(assemble(4, cluster), 300.0, matrix.signatures)
    assert findings[0].code == "DD801"
    assert findings[0].title.startswith("rank 3 on node-b never joined within 300 s")


def test_a_lost_rank_explains_the_collective_errors(matrix: Matrix) -> None:
    error = "RuntimeError: Connection closed by peer [127.0.0.1]:1234"
    ranks = {
        "0": rank_entry(0, 0, "a", error=error, stage="all-reduce"),
        "1": {"who": json.dumps({"rank": 1, "node": 1, "host": "b"}), "stage": "all-reduce"},
    }
    cluster = {"join": {"ok": True, "missing": []}, "lost": [1], "ranks": ranks}
    findings = about_ranks(matrix, cluster, 2)
    assert [f.code for f in findings] == ["DD802"]
    assert findings[0].title == "rank 1 on b joined but was lost during all-reduce: died or hung"
    assert findings[0].evidence["collective_errors"][0]["error"] == error


def test_ranks_lost_together_are_one_finding(matrix: Matrix) -> None:
    ranks = {
        str(r): rank_entry(r, 0, "a", error="RuntimeError: peer closed", stage="barrier")
        for r in (0, 1)
    }
    for r in range(2, 10):
        ranks[str(r)] = {"who": json.dumps({"rank": r, "node": 1, "host": "b"}), "stage": "barrier"}
    cluster = {"join": {"ok": True, "missing": []}, "lost": list(range(2, 10)), "ranks": ranks}
    (lost,) = about_ranks(matrix, cluster, 10)
    assert lost.title == "ranks 2-9 on b joined but were lost during barrier: died or hung"


def test_a_failure_with_no_one_missing_is_one_finding(matrix: Matrix) -> None:
    ranks = {
        str(r): rank_entry(r, r, "ab"[r], error="RuntimeError: boom", stage="barrier")
        for r in (0, 1)
    }
    cluster = {"join": {"ok": True, "missing": []}, "lost": [], "ranks": ranks}
    (finding,) = about_ranks(matrix, cluster, 2)
    assert finding.code == "DD803" and "ranks 0-1" in finding.title and "boom" in finding.title


def test_nccls_own_words_go_through_the_failure_signatures(matrix: Matrix) -> None:
    ranks = {str(r): rank_entry(r, r, "ab"[r], nccl=[NCCL_SHM] if r else []) for r in (0, 1)}
    cluster = {"join": {"ok": True, "missing": []}, "lost": [], "ranks": ranks}
    (finding,) = about_ranks(matrix, cluster, 2)
    assert finding.code == "DD805" and finding.evidence["signature"] == "nccl-shared-memory"
    assert finding.title.endswith("(on rank 1)")


def test_a_wrong_sum_is_named(matrix: Matrix) -> None:
    wrong = [{"test": "all-reduce", "status": "fail", "expected": 3.0, "got": [2.0]}]
    right = [{"test": "all-reduce", "status": "pass", "expected": 3.0, "got": [3.0]}]
    ranks = {"0": rank_entry(0, 0, "a", tests=right), "1": rank_entry(1, 1, "b", tests=wrong)}
    cluster = {"join": {"ok": True, "missing": []}, "lost": [], "ranks": ranks}
    (finding,) = about_ranks(matrix, cluster, 2)
    assert finding.code == "DD804" and "rank 1" in finding.title and "[2.0]" in finding.title


def test_what_does_not_parse_is_dropped() -> None:
    junk = {
        "0": {
            "who": "{not json",
            "result": "[]",
            "node": json.dumps({"version": 1, "digest": "x"}),
        },
        "1": {
            "who": json.dumps({"rank": 1, "node": "one", "host": 7}),
            "result": json.dumps({"tests": "no"}),
        },
        "2": {
            "who": json.dumps({"rank": 2, "node": 2, "host": "c"}),
            "node": json.dumps(
                {
                    "version": 1,
                    "digest": {
                        "fields": {"ok": "1", "bad key!": "x", "n": 3},
                        "sections": ["env", 5],
                    },
                    "findings": [
                        {"code": "XX1", "severity": "error", "title": "t", "area": "system"},
                        "s",
                    ],
                }
            ),
        },
    }
    state = assemble(3, {"join": {"missing": [9, "x"]}, "lost": "all", "ranks": junk})
    assert state.never_joined == [] and state.lost == []
    node = next(n for n in state.nodes if n.host == "c")
    assert node.fields == {"ok": "1"} and node.sections == ["env"] and node.findings == []
    assert (
        state.ranks[1].node is None and state.ranks[1].host is None and state.ranks[1].tests == []
    )


def test_redacted_nodes_are_named_by_their_index(matrix: Matrix) -> None:
    from dldoctor.cluster.state import anonymise

    state = assemble(3, cluster_of(matrix, [{}, {"cpu_torch": True}, {}]))
    anonymise(state)
    (finding,) = differences(state.nodes)
    assert finding.title.startswith("node1: torch 2.7.1+cpu")
    assert "gpu0" not in str(
        [n.to_dict() for n in state.nodes] + [r.to_dict() for r in state.ranks]
    )
