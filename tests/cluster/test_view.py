"""The terminal summary: a broken 64-node cluster still fits one screen; -v shows everything."""

from __future__ import annotations

import io

from dldoctor.cluster.judge import differences, group_node_findings, judge
from dldoctor.cluster.launch import Launch
from dldoctor.cluster.state import ClusterState, NodeState, RankState
from dldoctor.document.cluster import ClusterReport
from dldoctor.document.schema import cluster_report_schema
from dldoctor.document.validate import Validator
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Finding, Severity
from dldoctor.report import cluster_view
from dldoctor.report.terminal import Out

SCREEN_LINES = 40  # at 120 columns
NODES, PER_NODE = 64, 8
LAUNCH = Launch("slurm", 0, NODES * PER_NODE, 0, None, 0, NODES, "gpu01", 15000)


def broken_cluster() -> ClusterState:
    ranks, nodes = [], []
    for n in range(NODES):
        label = f"gpu{n + 1:02d}"
        members = list(range(n * PER_NODE, (n + 1) * PER_NODE))
        for r in members:
            tests = [{"test": t, "status": "pass"} for t in ("barrier", "all-reduce")]
            ranks.append(
                RankState(r, n, label, r % PER_NODE, True, True, "bandwidth", "nccl", tests)
            )
        cpu = n in (2, 6)
        fields = {
            "driver": "550.54.15" if n == 4 else "570.124.06",
            "framework:torch": "torch 2.7.1+cpu (CPU build)"
            if cpu
            else "torch 2.7.1+cu128 (CUDA 12.8)",
            "gpus": "8x NVIDIA H100 80GB HBM3",
        }
        if n % 9 == 0:
            fields["env:NCCL_IB_HCA"] = f"mlx5_{n}"
        if n < 8:  # eight nodes, each with a variable of its own: eight more differences
            fields[f"env:NCCL_TUNING_{n}"] = "1"
        findings = [
            Finding(f"DD{300 + (n % 12)}", Severity.WARNING, f"problem {n % 12}", Area.PACKAGES)
        ]
        if cpu:
            findings.append(
                Finding(
                    "DD201",
                    Severity.ERROR,
                    "PyTorch cannot use the GPUs: CPU-only build",
                    Area.FRAMEWORKS,
                )
            )
        nodes.append(
            NodeState(label, n, label, members, fields, ["env", "framework"], findings, True)
        )
    return ClusterState(NODES * PER_NODE, ranks, nodes, [], [])


def report_of(state: ClusterState, matrix: Matrix) -> ClusterReport:
    return ClusterReport(
        "dldoctor check --cluster", "2026-01-01T00:00:00+00:00", 12.0, LAUNCH, 300.0, state,
        tuple(judge(state, 300.0, matrix.signatures)), tuple(group_node_findings(state.nodes)),
    )  # fmt: skip


def rendered(report: ClusterReport, verbose: bool = False, width: int | None = 120) -> list[str]:
    stream = io.StringIO()
    cluster_view.render(report, Out(stream, width=width), verbose=verbose)
    return stream.getvalue().splitlines()


def test_sixty_four_broken_nodes_fit_one_screen(matrix: Matrix) -> None:
    report = report_of(broken_cluster(), matrix)
    assert len(differences(report.state.nodes)) > cluster_view.MAX_SHOWN  # more than is shown
    lines = rendered(report)
    assert len(lines) <= SCREEN_LINES
    text = "\n".join(lines)
    assert "gpu[03,07]: torch 2.7.1+cpu (CPU build), the other 62 nodes torch 2.7.1+cu128" in text
    assert "gpu[03,07]: PyTorch cannot use the GPUs: CPU-only build (DD201)" in text
    assert "gpu05: the NVIDIA driver 550.54.15, the other 63 nodes 570.124.06" in text
    assert "… and" in text  # what did not fit is counted, not dropped silently


def test_verbose_shows_every_finding(matrix: Matrix) -> None:
    report = report_of(broken_cluster(), matrix)
    text = "\n".join(rendered(report, verbose=True, width=None))
    for finding in report.findings:
        assert finding.title in text
    for group in report.node_findings:
        assert group.finding.title in text


def test_the_report_of_64_nodes_is_valid(matrix: Matrix) -> None:
    document = report_of(broken_cluster(), matrix).to_dict()
    assert Validator(cluster_report_schema()).errors(document) is None
    assert document["cluster"]["node_list"] == "gpu[01-64]"
    assert document["summary"]["errors"] >= 2


def test_rank_0_that_could_not_take_part_says_why(matrix: Matrix) -> None:
    state = ClusterState(4, [], [], [], [])
    report = ClusterReport(
        "dldoctor check --cluster", "2026-01-01T00:00:00+00:00", 1.0, LAUNCH, 300.0, state, (), (),
        failure="the cluster child exited with code 1: ModuleNotFoundError: No module named 'torch'",
    )  # fmt: skip
    assert report.exit_code() == 2
    text = "\n".join(rendered(report))
    assert "rank 0 could not take part" in text and "torch" in text
    assert Validator(cluster_report_schema()).errors(report.to_dict()) is None
