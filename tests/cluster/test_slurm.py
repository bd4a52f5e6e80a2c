"""Ranks started with Slurm's variables by hand: one node each, recorded facts, faults at the seam."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from dldoctor.document.schema import cluster_report_schema
from dldoctor.document.validate import Validator
from dldoctor.matrix import Matrix
from tests.cluster import launching, nodes

QUICK = ("--quick", "--json", "cluster.json")


def host() -> str:
    return "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-_")


def recorded(tmp_path: Path, matrix: Matrix, cpu_nodes: set[int], count: int) -> dict[str, str]:
    for node in range(count):
        nodes.write_report(tmp_path / f"node{node}.json", nodes.facts(matrix, node in cpu_nodes))
    return {"DLDOCTOR_CLUSTER_FACTS": str(tmp_path / "node{node}.json")}


def valid(document: dict[str, object]) -> dict[str, object]:
    assert Validator(cluster_report_schema()).errors(document) is None
    return document


def test_without_a_launcher_it_says_how_to_launch() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--cluster"],
        env=launching.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "torchrun" in line and "srun" in line


def test_a_batch_script_is_told_to_use_srun() -> None:
    variables = launching.env(SLURM_PROCID="0", SLURM_NTASKS="8", SLURM_JOB_ID="7")
    done = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--cluster"],
        env=variables, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "srun" in line


def test_three_nodes_the_one_unlike_the_others_is_named(tmp_path: Path, matrix: Matrix) -> None:
    port, facts = launching.free_port(), recorded(tmp_path, matrix, {1}, 3)
    procs = [launching.slurm(r, 3, port, QUICK, tmp_path, **facts) for r in range(3)]
    with launching.reaped(*procs):
        ended = [launching.wait(p) for p in procs]
    report = valid(ended[0].report(tmp_path / "cluster.json"))
    assert ended[0].code == 1 and ended[1].code == ended[2].code == 0
    odd = f"{host()}#1"
    (differs,) = [f for f in report["findings"] if f["code"] == "DD806"]  # type: ignore[index]
    assert differs["evidence"]["nodes"] == {odd: "torch 2.7.1+cpu (CPU build)"}
    assert differs["fixes"][0]["intents"][0]["requirements"] == ["torch==2.7.1+cu128"]
    (group,) = report["node_findings"]  # type: ignore[misc]
    assert (group["code"], group["nodes"]) == ("DD201", [odd])
    assert report["cluster"]["tests"]["all-reduce"]["passed"] == [0, 1, 2]  # type: ignore[index]
    # Each node wrote its own report, beside the cluster's.
    assert sorted(p.name for p in tmp_path.glob("cluster.node*.json")) == [
        "cluster.node0.json", "cluster.node1.json", "cluster.node2.json",
    ]  # fmt: skip
    assert f"{odd}: torch 2.7.1+cpu (CPU build)" in ended[0].out


def test_a_rank_that_never_starts_is_named(tmp_path: Path) -> None:
    port = launching.free_port()
    args = ("--quick", "--cluster-timeout", "3", "--json", "cluster.json")
    proc = launching.slurm(0, 2, port, args, tmp_path)
    with launching.reaped(proc):
        ended = launching.wait(proc)
    report = valid(ended.report(tmp_path / "cluster.json"))
    assert ended.code == 1
    assert report["cluster"]["never_joined"] == [1]  # type: ignore[index]
    first = report["findings"][0]  # type: ignore[index]
    assert first["code"] == "DD801" and first["title"].startswith("rank 1 ")
    assert "never joined within 3 s" in first["title"]
    assert "never joined within 3 s" in ended.out


def test_a_rank_that_sleeps_past_the_timeout_is_named(tmp_path: Path) -> None:
    port = launching.free_port()
    args = ("--quick", "--cluster-timeout", "4", "--json", "cluster.json")
    temp = tmp_path / "tmp"
    temp.mkdir()
    sleepy = {"DLDOCTOR_CLUSTER_FAULT": "sleep@join:1", "TMPDIR": str(temp)}
    procs = [launching.slurm(r, 2, port, args, tmp_path, **sleepy) for r in range(2)]
    with launching.reaped(*procs):
        ended = launching.wait(procs[0])
        stopped = launching.interrupt(procs[1])
    report = valid(ended.report(tmp_path / "cluster.json"))
    assert ended.code == 1
    assert report["cluster"]["never_joined"] == [1]  # type: ignore[index]
    assert report["findings"][0]["code"] == "DD801"  # type: ignore[index]
    # The interrupted rank waited for its child's end: nothing of the child's is left behind.
    assert stopped.code == 130, stopped.err
    assert sorted(p.name for p in temp.iterdir()) == []


def test_a_rank_that_dies_is_named_and_explains_the_failed_collective(tmp_path: Path) -> None:
    port = launching.free_port()
    # Long enough for rank 1 to join on a loaded machine; its death is seen at once, then
    # rank 0 gives the others a short grace (FAILED_GRACE_S), not the whole timeout.
    args = ("--quick", "--cluster-timeout", "120", "--json", "cluster.json")
    dies = {"DLDOCTOR_CLUSTER_FAULT": "die@all-reduce:1"}
    procs = [launching.slurm(r, 2, port, args, tmp_path, **dies) for r in range(2)]
    with launching.reaped(*procs):
        ended = [launching.wait(p) for p in procs]
    report = valid(ended[0].report(tmp_path / "cluster.json"))
    assert ended[0].code == 1
    assert report["cluster"]["lost"] == [1]  # type: ignore[index]
    lost = report["findings"][0]  # type: ignore[index]
    assert lost["code"] == "DD802"
    assert lost["title"].startswith("rank 1 on ") and "lost during all-reduce" in lost["title"]
    assert lost["evidence"]["collective_errors"][0]["rank"] == 0
    assert not [f for f in report["findings"] if f["code"] == "DD803"]  # type: ignore[union-attr]
    # The dead rank's own dldoctor says what happened to it, in one line.
    assert ended[1].code == 2
    (line,) = ended[1].err.splitlines()
    assert "rank 1" in line and "SIGKILL" in line


def test_a_rank_whose_rank_0_never_starts_says_so(tmp_path: Path) -> None:
    port = launching.free_port()
    proc = launching.slurm(1, 2, port, ("--quick", "--cluster-timeout", "2"), tmp_path)
    with launching.reaped(proc):
        ended = launching.wait(proc)
    assert ended.code == 2 and ended.out == ""
    (line,) = ended.err.splitlines()
    assert (
        line.startswith("dldoctor: error: rank 1 on ")
        and f"could not reach localhost:{port}" in line
    )
