"""`dldoctor triage FILE|-`: judge what a bug report's pasted dumps show, and ask for the rest."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from dldoctor.cli.app import Argument, Exit, Option, app, echo
from dldoctor.cli.common import OutputFormat, emit_report, ensure_writable, fail, load_matrix


@app.command()
def triage(
    source: str = Argument(..., metavar="FILE|-", help="The pasted text (- reads stdin)."),
    output_format: OutputFormat = Option(
        OutputFormat.terminal, "--format", "-f", help="What to print on stdout."
    ),
    json_path: Optional[Path] = Option(
        None, "--json", help="Also write the JSON report to this file."
    ),
    verbose: bool = Option(False, "--verbose", "-v", help="Show the evidence and skipped checks."),
    strict: bool = Option(False, "--strict", help="Exit 1 on warnings too."),
    redact_private: bool = Option(
        False,
        "--redact",
        help="Replace private values: user and host names, home paths, IP and MAC addresses, GPU UUIDs, serials, instance ids.",
    ),
) -> None:
    """Read pasted output (collect_env, nvidia-smi, pip list, conda list, jax/paddle/TensorFlow
    environment dumps, tracebacks, a dldoctor report) and judge the facts it shows.

    A fact the paste does not show is unknown: the checks that need it are not judged, and the
    output names what to paste next. Exit codes as for `check`: 0 healthy, 1 an error was found
    (or a warning, with --strict), 2 unreadable input.
    """
    from dldoctor.checks.registry import run_checks
    from dldoctor.document.report import Report
    from dldoctor.triage import read
    from dldoctor.triage.advice import next_pastes

    started = time.perf_counter()
    ensure_writable(json_path)
    text, name = _read(source)
    matrix = load_matrix()
    pasted = read(text, matrix)
    outcomes = tuple(run_checks(pasted.facts, matrix))
    report = Report(
        command=f"dldoctor triage {name}",
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        duration_s=time.perf_counter() - started,
        facts=pasted.facts,
        outcomes=outcomes,
        redacted=redact_private,
    )
    asks = next_pastes(list(outcomes))
    extra: dict[str, object] = {
        "triage": {
            "formats": list(pasted.formats),
            "complete_listing": pasted.complete_listing,
            "notes": list(pasted.notes),
            "next": [{"paste": ask, "settles": codes} for ask, codes in asks],
        }
    }
    if not pasted.formats:
        echo(
            "dldoctor: the paste shows none of the formats triage reads "
            "(collect_env, nvidia-smi, pip list, conda list, a traceback...)",
            err=True,
        )
    emit_report(report, output_format, json_path, verbose, extra=extra)
    if output_format is not OutputFormat.json:
        from dldoctor.report.triage_view import render_asks

        sys.stdout.write(render_asks(pasted.formats, pasted.notes, asks, output_format.value))
    raise Exit(report.exit_code(strict))


def _read(source: str) -> tuple[str, str]:
    """The paste, read to the size limit every report input has; one clear line when it cannot be."""
    from dldoctor.document.load import MAX_REPORT_BYTES

    try:
        if source == "-":
            raw, name = sys.stdin.buffer.read(MAX_REPORT_BYTES + 1), "-"
        else:
            with open(source, "rb") as f:
                raw, name = f.read(MAX_REPORT_BYTES + 1), Path(source).name
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    if len(raw) > MAX_REPORT_BYTES:
        fail(f"{source} is larger than {MAX_REPORT_BYTES >> 20} MiB: not a paste")
    if b"\x00" in raw[:65536]:
        fail(f"{source} is not text")
    return raw.decode("utf-8", errors="replace"), name
