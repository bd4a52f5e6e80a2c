"""Judge a cluster: ranks that never came or were lost, collectives that failed, bandwidth, nodes.

Pure functions of the ClusterState (and the failure signatures): nothing here touches a machine.
Each root cause is one finding; what follows from it (a collective that failed because a rank
died, the cuDNN a different torch build brought) is its evidence.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dldoctor.cluster.compare import NodeGroup, differences, group_node_findings
from dldoctor.cluster.links import node_bandwidth
from dldoctor.cluster.nodelist import compress
from dldoctor.cluster.state import ClusterState
from dldoctor.matrix.signatures import Signatures
from dldoctor.model import Area, Finding, Fix, Severity

JSON = dict[str, Any]
__all__ = ["NodeGroup", "differences", "group_node_findings", "judge"]


def judge(state: ClusterState, timeout_s: float, signatures: Signatures) -> list[Finding]:
    """The cluster's own findings, root causes first."""
    findings = _absent(state, timeout_s)
    failures = _failures(state)
    diagnosed = _diagnosed(state, signatures)
    if findings:
        # A collective that failed while a rank was missing failed because of it.
        findings = [_with(findings[0], collective_errors=failures), *findings[1:], *diagnosed]
    elif diagnosed:
        findings = [_with(diagnosed[0], collective_errors=failures), *diagnosed[1:]]
    elif failures:
        findings.append(_failed(failures))
    findings += _wrong_values(state)
    findings += _unreported(state)
    findings += _bandwidth(state)
    findings += differences(state.nodes)
    return findings


def _ranks_text(ranks: list[int]) -> str:
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return f"ranks {_spans(ranks)}"


def _spans(numbers: list[int]) -> str:
    runs, start = [], numbers[0]
    for prev, number in zip(numbers, [*numbers[1:], None]):
        if number is None or number != prev + 1:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            start = number if number is not None else start
    return ", ".join(runs)


def _where_missing(state: ClusterState, ranks: list[int]) -> str:
    """The node a missing rank belonged on, when the launcher numbers ranks node by node."""
    joined = [r for r in state.ranks if r.joined and r.node is not None]
    per_node = Counter(r.node for r in joined)
    if not joined:
        return ""
    size = max(per_node.values())
    if any(r.rank // size != r.node for r in joined):
        return ""
    nodes = sorted({r // size for r in ranks})
    hosts = {r.node: r.host for r in joined}
    labels = [hosts.get(n) or f"node {n}" for n in nodes]
    return " on " + ", ".join(dict.fromkeys(labels))


def _absent(state: ClusterState, timeout_s: float) -> list[Finding]:
    findings = []
    if state.never_joined:
        ranks = state.never_joined
        where = _where_missing(state, ranks)
        findings.append(
            Finding(
                code="DD801",
                severity=Severity.ERROR,
                title=f"{_ranks_text(ranks)}{where} never joined within {timeout_s:g} s: not started, stuck before the rendezvous, or unable to reach it",
                area=Area.CLUSTER,
                evidence={"ranks": ranks, "timeout_s": timeout_s},
                fixes=(
                    Fix(
                        summary="Read that rank's own output in the launcher's log; check that its node can reach MASTER_ADDR:MASTER_PORT (a firewall, the wrong interface)"
                    ),
                ),
            )
        )
    by_stage: dict[str, list[int]] = {}
    for rank in state.lost:  # grouped: a node that crashed loses all its ranks at once
        by_stage.setdefault(state.ranks[rank].stage or "the rendezvous", []).append(rank)
    for stage, ranks in by_stage.items():
        hosts = [h for h in dict.fromkeys(state.ranks[r].host for r in ranks) if h]
        where = f" on {compress(hosts)}" if hosts else ""
        was = "was" if len(ranks) == 1 else "were"
        findings.append(
            Finding(
                code="DD802",
                severity=Severity.ERROR,
                title=f"{_ranks_text(ranks)}{where} joined but {was} lost during {stage}: died or hung",
                area=Area.CLUSTER,
                evidence={"ranks": ranks, "hosts": hosts, "last_stage": stage},
                fixes=(
                    Fix(
                        summary="Read those ranks' output in the launcher's log (a crash, an out-of-memory kill), then rerun"
                    ),
                ),
            )
        )
    return findings


def _failures(state: ClusterState) -> list[JSON]:
    return [
        {"rank": r.rank, "host": r.host, "stage": r.stage, "error": r.error}
        for r in state.ranks
        if r.error
    ]


def _failed(failures: list[JSON]) -> Finding:
    ranks = [f["rank"] for f in failures]
    stage = failures[0].get("stage") or "the collectives"
    return Finding(
        code="DD803",
        severity=Severity.ERROR,
        title=f"the collectives failed on {_ranks_text(ranks)} at {stage}: {failures[0]['error'][:200]}",
        area=Area.CLUSTER,
        evidence={"collective_errors": failures},
        fixes=(
            Fix(
                summary="Rerun with NCCL_DEBUG=INFO set by hand and read the WARN lines; check the interface NCCL/gloo picked (NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME)"
            ),
        ),
    )


def _diagnosed(state: ClusterState, signatures: Signatures) -> list[Finding]:
    """NCCL's own words and the collectives' errors, read by the failure signatures."""
    hits: dict[str, tuple[Any, list[int]]] = {}
    for rank in state.ranks:
        text = "\n".join([*rank.nccl, rank.error or ""])
        if not text.strip():
            continue
        for match in signatures.scan(text):
            entry = hits.setdefault(match.signature.id, (match, []))
            entry[1].append(rank.rank)
    findings = []
    for match, ranks in hits.values():
        sig = match.signature
        findings.append(
            Finding(
                code="DD805",
                severity=Severity(sig.severity),
                title=f"{match.title('NCCL')} (on {_ranks_text(ranks)})",
                area=Area.CLUSTER,
                evidence={
                    "signature": sig.id,
                    "cause": sig.cause,
                    "line": match.line,
                    "ranks": ranks,
                    "source": sig.source,
                },
                # Intents only: rank 0 holds no node's installer facts to render them with.
                fixes=(Fix(summary=sig.advice, intents=tuple(sig.intents)),) if sig.advice else (),
            )
        )
    return findings


def _wrong_values(state: ClusterState) -> list[Finding]:
    wrong = [
        r
        for r in state.ranks
        for t in r.tests
        if t.get("test") == "all-reduce" and t.get("status") == "fail"
    ]
    if not wrong:
        return []
    test = next(t for t in wrong[0].tests if t.get("test") == "all-reduce")
    return [
        Finding(
            code="DD804",
            severity=Severity.ERROR,
            title=f"all-reduce gave a wrong sum on {_ranks_text([r.rank for r in wrong])}: {test.get('got')} instead of {test.get('expected')}",
            area=Area.CLUSTER,
            evidence={
                "ranks": [r.rank for r in wrong],
                "expected": test.get("expected"),
                "got": test.get("got"),
            },
            fixes=(
                Fix(
                    summary="Wrong numbers without an error: suspect the GPUs' peer-to-peer path; rerun with NCCL_P2P_DISABLE=1 to confirm"
                ),
            ),
        )
    ]


def _unreported(state: ClusterState) -> list[Finding]:
    missing = [n.label for n in state.nodes if not n.reported]
    if not missing:
        return []
    return [
        Finding(
            code="DD808",
            severity=Severity.WARNING,
            title=f"{compress(missing)}: no node report arrived (its local rank 0 gathers the facts): not judged",
            area=Area.CLUSTER,
            evidence={"nodes": missing},
        )
    ]


def _with(finding: Finding, **evidence: Any) -> Finding:
    from dataclasses import replace

    if not any(evidence.values()):
        return finding
    return replace(finding, evidence={**finding.evidence, **evidence})


def _bandwidth(state: ClusterState) -> list[Finding]:
    """Bus bandwidth between nodes against what the slowest node's network links carry."""
    test = (
        next((t for t in state.ranks[0].tests if t.get("test") == "bandwidth"), None)
        if state.ranks
        else None
    )
    busbw = (test or {}).get("busbw_bytes_per_s")
    reported = [n for n in state.nodes if n.reported]
    if not isinstance(busbw, (int, float)) or len(reported) < 2 or len(reported) < len(state.nodes):
        return []  # one node: NVLink, PCIe or shared memory carry it, with no figure to compare
    figures = [(node_bandwidth(n.links), n.label) for n in reported]
    if any(figure is None for figure, _ in figures):
        return []  # a node whose links are unknown: nothing to compare with
    (expected, words), label = min(
        ((f, lab) for f, lab in figures if f is not None), key=lambda x: x[0][0]
    )
    share = busbw / expected
    return [
        Finding(
            code="DD809",
            severity=Severity.INFO,
            title=f"bus bandwidth {busbw / 1e9:.2f} GB/s across {len(reported)} nodes: {share:.0%} of the {expected / 1e9:.2f} GB/s of {label}'s links ({words})",
            area=Area.CLUSTER,
            evidence={
                "busbw_bytes_per_s": busbw,
                "expected_bytes_per_s": expected,
                "share": share,
                "slowest_node": label,
                "links": words,
            },
            fixes=(
                Fix(
                    summary="Far below the links' rate: NCCL may be on TCP sockets or the wrong interface; NCCL_DEBUG=INFO says which transport (NET/IB or NET/Socket) it chose"
                ),
            ),
        )
    ]
