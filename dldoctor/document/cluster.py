"""The cluster report of `dldoctor check --cluster`: ranks, nodes, collectives, findings, exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dldoctor.cluster.judge import NodeGroup
from dldoctor.cluster.launch import Launch
from dldoctor.cluster.nodelist import compress
from dldoctor.cluster.state import ClusterState
from dldoctor.document.report import EXIT_FOUND, EXIT_INTERNAL, EXIT_OK, envelope
from dldoctor.model import Finding, Severity

CLUSTER_SCHEMA_VERSION = "1.0"
JSON = dict[str, Any]


@dataclass(frozen=True)
class ClusterReport:
    command: str
    created: str  # ISO 8601, UTC
    duration_s: float
    launch: Launch
    timeout_s: float
    state: ClusterState
    findings: tuple[Finding, ...]  # the cluster's own (DD8xx), root causes first
    node_findings: tuple[NodeGroup, ...]  # every node's own findings, grouped by nodes
    failure: str = ""  # rank 0's own child failed: nothing but this is known
    redacted: bool = False

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity) + sum(
            1 for g in self.node_findings if g.finding.severity is severity
        )

    def exit_code(self, strict: bool = False) -> int:
        if self.failure:
            return EXIT_INTERNAL
        if self.count(Severity.ERROR) or (strict and self.count(Severity.WARNING)):
            return EXIT_FOUND
        return EXIT_OK

    def tests(self) -> JSON:
        """Each collective test across ranks: passed on how many, and the bandwidth measured."""
        summary: JSON = {}
        for rank in self.state.ranks:
            for test in rank.tests:
                name = str(test.get("test"))
                entry = summary.setdefault(name, {"passed": [], "failed": []})
                entry["passed" if test.get("status") == "pass" else "failed"].append(rank.rank)
                if name == "bandwidth" and rank.rank == 0:
                    for key in ("bytes", "seconds", "algbw_bytes_per_s", "busbw_bytes_per_s"):
                        entry[key] = test.get(key)
        return summary

    def _launch(self) -> JSON:
        launch = self.launch.to_dict()
        if self.redacted:  # the rendezvous host is a host name too
            launch["master_addr"] = "<host>"
        return launch

    def to_dict(self) -> JSON:
        backends = sorted({r.backend for r in self.state.ranks if r.backend})
        return {
            **envelope(
                self.command, self.created, self.duration_s, self.redacted, CLUSTER_SCHEMA_VERSION
            ),
            "summary": {
                "errors": self.count(Severity.ERROR),
                "warnings": self.count(Severity.WARNING),
                "infos": self.count(Severity.INFO),
                "exit_code": self.exit_code(),
                "failure": self.failure,
            },
            "launch": {**self._launch(), "timeout_s": self.timeout_s},
            "cluster": {
                "world_size": self.state.world_size,
                "nodes": len(self.state.nodes),
                "node_list": compress([n.label for n in self.state.nodes]),
                "never_joined": self.state.never_joined,
                "lost": self.state.lost,
                "backends": backends,
                "tests": self.tests(),
            },
            "findings": [f.to_dict() for f in self.findings],
            "node_findings": [g.to_dict() for g in self.node_findings],
            "nodes": [n.to_dict() for n in self.state.nodes],
            "ranks": [r.to_dict() for r in self.state.ranks],
        }
