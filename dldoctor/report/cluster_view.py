"""The cluster report on a terminal: one screen for 64 nodes (groups, not a line per node)."""

from __future__ import annotations

from dldoctor.cluster.nodelist import compress
from dldoctor.document.cluster import ClusterReport
from dldoctor.model import Finding, Severity
from dldoctor.report.clean import clean
from dldoctor.report.terminal import _GLYPH, Out

MAX_SHOWN = 6  # findings of each kind on the screen; -v and the JSON report have them all


def render(report: ClusterReport, out: Out, verbose: bool = False) -> None:
    launch, state = report.launch, report.state
    took = out.style(f"({report.duration_s:.1f} s)", "dim")
    out.line(f"{out.style('dldoctor', 'bold')} — {clean(report.command)} {took}")
    where = f" on {len(state.nodes)} node(s) {compress([n.label for n in state.nodes])}"
    out.wrapped(
        f"{launch.launcher}: {launch.world_size} rank(s){where if state.nodes else ''}, "
        f"rendezvous {'<host>' if report.redacted else launch.master_addr}:{launch.master_port}",
        2,
    )
    out.line()
    if report.failure:
        out.wrapped(f"rank 0 could not take part: {report.failure}", 0, "[✗]", "red")
        return
    _ranks(report, out)
    _collectives(report, out)
    _section(out, "Nodes", _nodes_line(report), list(report.findings), verbose)
    _node_findings(report, out, verbose)
    out.line()
    out.line(_summary(report, out, verbose))


def _ranks(report: ClusterReport, out: Out) -> None:
    state = report.state
    absent = len(state.never_joined) + len(state.lost)
    finished = sum(1 for r in state.ranks if r.finished)
    if not absent:
        text = f"Ranks: all {state.world_size} joined and finished"
    else:
        text = f"Ranks: {state.world_size - len(state.never_joined)} of {state.world_size} joined, {finished} finished"
    glyph, colour = _GLYPH[Severity.ERROR if absent else Severity.OK]
    out.wrapped(text, 0, f"[{glyph}]", colour)
    for finding in report.findings:
        if finding.code in ("DD801", "DD802"):
            _finding(out, finding, False)


def _collectives(report: ClusterReport, out: Out) -> None:
    tests = report.tests()
    backends = ", ".join(sorted({r.backend for r in report.state.ranks if r.backend})) or "none"
    failed = any(entry["failed"] for entry in tests.values()) or any(
        f.code in ("DD803", "DD804", "DD805") for f in report.findings
    )
    parts = []
    for name in ("barrier", "all-reduce", "bandwidth"):
        entry = tests.get(name)
        if entry is None and name == "bandwidth" and report.state.world_size < 2:
            continue  # one rank: no bus to measure
        if entry is None:
            parts.append(f"{name} not run")
            continue
        passed = len(entry["passed"])
        parts.append(f"{name} {passed}/{report.state.world_size}")
    glyph, colour = _GLYPH[Severity.ERROR if failed or not tests else Severity.OK]
    out.wrapped(f"Collectives ({backends}): {', '.join(parts)}", 0, f"[{glyph}]", colour)
    band = tests.get("bandwidth") or {}
    if isinstance(band.get("busbw_bytes_per_s"), (int, float)):
        size = band.get("bytes") or 0
        out.wrapped(
            f"bus bandwidth {_rate(band['busbw_bytes_per_s'])} (algbw {_rate(band.get('algbw_bytes_per_s') or 0)}, "
            f"all-reduce of {size / 2**20:g} MiB; busbw = algbw × 2(n-1)/n)",
            4,
            "•",
            "cyan",
        )
    for finding in report.findings:
        if finding.code in ("DD803", "DD804", "DD805", "DD809"):
            _finding(out, finding, False)


def _nodes_line(report: ClusterReport) -> str:
    nodes = report.state.nodes
    reported = sum(1 for n in nodes if n.reported)
    differ = {
        label
        for f in report.findings
        if f.code in ("DD806", "DD807")
        for label in f.evidence.get("nodes", {})
    }
    text = f"Nodes: {reported} of {len(nodes)} reported"
    return text + (
        f"; {len(differ)} differ from the others" if differ else "; their shared facts agree"
    )


def _section(out: Out, label: str, line: str, findings: list[Finding], verbose: bool) -> None:
    shown = [
        f for f in findings if f.code not in ("DD801", "DD802", "DD803", "DD804", "DD805", "DD809")
    ]
    worst = max((f.severity for f in shown), key=lambda s: s.rank, default=Severity.OK)
    glyph, colour = _GLYPH[worst]
    out.wrapped(line, 0, f"[{glyph}]", colour)
    for finding in shown if verbose else shown[:MAX_SHOWN]:
        _finding(out, finding, verbose)
    if not verbose and len(shown) > MAX_SHOWN:
        out.wrapped(f"… and {len(shown) - MAX_SHOWN} more (-v, or the JSON report)", 4)


def _node_findings(report: ClusterReport, out: Out, verbose: bool) -> None:
    groups = [
        g
        for g in report.node_findings
        if g.finding.severity in (Severity.ERROR, Severity.WARNING) or verbose
    ]
    worst = max((g.finding.severity for g in groups), key=lambda s: s.rank, default=Severity.OK)
    glyph, colour = _GLYPH[worst]
    out.wrapped("Each node's own findings:", 0, f"[{glyph}]", colour)
    for group in groups if verbose else groups[:MAX_SHOWN]:
        finding = group.finding
        g, c = _GLYPH[finding.severity]
        out.wrapped(f"{compress(list(group.nodes))}: {finding.title} ({finding.code})", 4, g, c)
        for fix in finding.fixes[:1]:
            out.wrapped(f"To fix: {fix.summary}", 6)
    if not verbose and len(groups) > MAX_SHOWN:
        out.wrapped(f"… and {len(groups) - MAX_SHOWN} more (-v, or the JSON report)", 4)
    troubled = {
        n for g in groups if g.finding.severity.rank >= Severity.WARNING.rank for n in g.nodes
    }
    healthy = [n.label for n in report.state.nodes if n.reported and n.label not in troubled]
    if healthy:
        g, c = _GLYPH[Severity.OK]
        out.wrapped(f"{compress(healthy)}: no error or warning", 4, g, c)


def _finding(out: Out, finding: Finding, verbose: bool) -> None:
    glyph, colour = _GLYPH[finding.severity]
    out.wrapped(f"{finding.title} ({finding.code})", 4, glyph, colour)
    for fix in finding.fixes[:1]:
        out.wrapped(f"To fix: {fix.summary}", 6)
    if verbose:
        for key, value in finding.evidence.items():
            text = str(value)
            out.wrapped(f"{key}: {text if len(text) < 300 else text[:299] + '…'}", 6)


def _rate(bytes_per_s: float) -> str:
    return (
        f"{bytes_per_s / 1e9:.2f} GB/s" if bytes_per_s >= 1e8 else f"{bytes_per_s / 1e6:.1f} MB/s"
    )


def _summary(report: ClusterReport, out: Out, verbose: bool) -> str:
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    if not errors and not warnings:
        return out.style("No issues found across the cluster.", "green")
    parts = []
    if errors:
        parts.append(out.style(f"{errors} error{'s' if errors > 1 else ''}", "red"))
    if warnings:
        parts.append(out.style(f"{warnings} warning{'s' if warnings > 1 else ''}", "yellow"))
    return "Found " + ", ".join(parts) + "." + ("" if verbose else " Run with -v for the evidence.")
