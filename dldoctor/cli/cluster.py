"""`dldoctor check --cluster`: one process per rank; each node's local rank 0 gathers, rank 0 judges."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

from dldoctor.cli.app import EXIT_INTERRUPTED, Exit, echo
from dldoctor.cli.common import OutputFormat, fail, gather_and_probe, gather_facts, reader_may_stop

if TYPE_CHECKING:
    from dldoctor.cluster.launch import Launch
    from dldoctor.document.cluster import ClusterReport
    from dldoctor.matrix import Matrix

FACTS_VAR = "DLDOCTOR_CLUSTER_FACTS"  # tests only: a recorded report per node, "{node}" in the path


def run_cluster(
    matrix: Matrix,
    output_format: OutputFormat,
    json_path: Optional[Path],
    verbose: bool,
    strict: bool,
    python: Optional[str],
    probe: tuple[bool, bool, Optional[str], float, Optional[float]],
    timeout_s: float,
    redact_private: bool,
) -> NoReturn:
    """Gather (on a node's local rank 0), take part in the c10d run, and on rank 0 judge and print."""
    from dldoctor.cluster.launch import HOW_TO_LAUNCH, LaunchError, detect
    from dldoctor.cluster.session import run_rank

    started = time.perf_counter()
    if probe[0] and (probe[1] or probe[2]):
        fail("--quick imports no framework: it cannot be combined with --full or --framework")
    if output_format is OutputFormat.markdown:
        fail("--cluster writes a terminal summary or JSON (--format json), not Markdown")
    try:
        launch = detect(os.environ)
    except LaunchError as exc:
        fail(f"--cluster: {exc}")
    if launch is None:
        fail(HOW_TO_LAUNCH)
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-_")[:255] or "?"
    interpreter = os.path.abspath(python) if python else sys.executable

    def gather() -> bytes | None:
        return _gather(matrix, launch, host, python, probe, json_path, redact_private)

    try:
        run = run_rank(
            launch, interpreter, host, gather if launch.gatherer else None, timeout_s, os.environ
        )
    except KeyboardInterrupt:  # the child is killed on the way out (run_child's finally)
        fail(f"rank {launch.rank}: interrupted", EXIT_INTERRUPTED)
    if launch.rank != 0:
        if run.error:
            fail(f"rank {launch.rank} on {host}: {run.error}")
        raise Exit(0)
    report = _judge(matrix, launch, run, interpreter, timeout_s, started, redact_private)
    _emit(report, output_format, json_path, verbose)
    raise Exit(report.exit_code(strict))


def _gather(
    matrix: Matrix,
    launch: Launch,
    host: str,
    python: Optional[str],
    probe: tuple[bool, bool, Optional[str], float, Optional[float]],
    json_path: Optional[Path],
    redacted: bool,
) -> bytes | None:
    """This node's facts, probes and findings as the payload for rank 0; None when they failed."""
    from dldoctor.checks.registry import run_checks
    from dldoctor.cluster.digest import payload
    from dldoctor.document.report import Report

    node = launch.node_rank if launch.node_rank is not None else launch.rank
    probe_timeout_s = probe[3]
    recorded = os.environ.get(FACTS_VAR)
    started = time.perf_counter()
    try:
        if recorded:
            facts, source = gather_facts(
                matrix, None, 5.0, Path(recorded.replace("{node}", str(node)))
            )
        else:  # the probe children start while the static facts are still being gathered
            facts, source = gather_and_probe(
                matrix,
                python,
                min(5.0, probe_timeout_s),
                probe,
                interpreter_timeout_s=min(60.0, max(5.0, probe_timeout_s)),
                nvml_timeout_s=probe_timeout_s,
            )
    except Exit:  # said on stderr already; the node joins without a report
        return None
    outcomes = tuple(run_checks(facts, matrix))
    report = Report(
        command=f"dldoctor check --cluster{source} (node {node}, {host})",
        created=_now(),
        duration_s=time.perf_counter() - started,
        facts=facts,
        outcomes=outcomes,
        redacted=redacted,
    )
    written = None
    if json_path is not None:
        target = json_path.with_name(f"{json_path.stem}.node{node}{json_path.suffix or '.json'}")
        if _write(report.to_dict(), target, redacted):
            written = str(target)
    from dldoctor.cluster.links import network_links

    return payload(node, host, launch.rank, facts, report.findings, written, network_links())


def _judge(
    matrix: Matrix,
    launch: Launch,
    run: object,
    interpreter: str,
    timeout_s: float,
    started: float,
    redacted: bool,
) -> ClusterReport:
    from dldoctor.cluster.judge import group_node_findings, judge
    from dldoctor.cluster.session import RankRun
    from dldoctor.cluster.state import ClusterState, anonymise, assemble
    from dldoctor.document.cluster import ClusterReport

    assert isinstance(run, RankRun)
    failure = f"its torch.distributed child ({interpreter}): {run.error}" if not run.cluster else ""
    if failure:
        state = ClusterState(launch.world_size, [], [], [], [])
        findings, groups = [], []
    else:
        state = assemble(launch.world_size, run.cluster)
        if redacted:
            anonymise(state)
        findings = judge(state, timeout_s, matrix.signatures)
        groups = group_node_findings(state.nodes)
    return ClusterReport(
        command="dldoctor check --cluster",
        created=_now(),
        duration_s=time.perf_counter() - started,
        launch=launch,
        timeout_s=timeout_s,
        state=state,
        findings=tuple(findings),
        node_findings=tuple(groups),
        failure=failure,
        redacted=redacted,
    )


def _emit(
    report: ClusterReport, output_format: OutputFormat, json_path: Optional[Path], verbose: bool
) -> None:
    from dldoctor.cli.common import terminal_out

    document = report.to_dict()
    if json_path is not None and _write(document, json_path, report.redacted):
        echo(f"Cluster report written to {json_path}", err=True)
    with reader_may_stop():
        if output_format is OutputFormat.json:
            sys.stdout.write(_text(document, report.redacted))
        else:
            from dldoctor.report import cluster_view
            from dldoctor.report.terminal import Out

            out = terminal_out()
            assert isinstance(out, Out)
            cluster_view.render(report, out, verbose=verbose)


def _text(document: dict[str, object], redacted: bool) -> str:
    from dldoctor.facts.withhold import withhold_all

    document = withhold_all(document)  # secrets by shape, whatever carried them
    if redacted:
        from dldoctor.document.redact import redact

        document = redact(document)
    return json.dumps(document, indent=2) + "\n"


def _write(document: dict[str, object], path: Path, redacted: bool) -> bool:
    try:
        path.write_text(_text(document, redacted), encoding="utf-8")
    except OSError as exc:
        echo(f"dldoctor: error: cannot write {path}: {exc.strerror or exc}", err=True)
        return False
    return True


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
