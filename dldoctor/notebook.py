"""`import dldoctor; dldoctor.check()` in a notebook: the same pipeline as `dldoctor check`,
shown inline (HTML in Jupyter, Colab and VS Code; Markdown or text elsewhere)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from dldoctor.document.report import Report
from dldoctor.model import Finding


@dataclass(frozen=True)
class Checked:
    """A judged report that notebooks display: its findings, exit code and JSON at hand."""

    report: Report

    @property
    def findings(self) -> list[Finding]:
        return self.report.findings

    @property
    def exit_code(self) -> int:
        return self.report.exit_code()

    def to_dict(self) -> dict[str, Any]:
        """The JSON report, secrets withheld (as `--json` writes it)."""
        from dldoctor.facts.withhold import withhold_all

        return dict(withhold_all(self.report.to_dict()))

    def _shown(self, text: str) -> str:
        """Secrets withheld always; private values too when the report is redacted."""
        from dldoctor.facts.withhold import withhold

        text = withhold(text)
        if self.report.redacted:
            from dldoctor.document.redact import redactor

            text = redactor().scrub(text)
        return text

    def _repr_html_(self) -> str:
        from dldoctor.report import html

        return self._shown(html.render(self.report))

    def _repr_markdown_(self) -> str:
        from dldoctor.report import markdown

        return markdown.render(self.report, self._shown)

    def __repr__(self) -> str:
        import io

        from dldoctor.report import terminal

        out = io.StringIO()
        terminal.render(self.report, terminal.Out(out))
        return out.getvalue().rstrip("\n")


def check(
    python: str | None = None,
    quick: bool = False,
    full: bool = False,
    frameworks: list[str] | None = None,
    timeout_s: float = 60.0,
    redact: bool = False,
) -> Checked:
    """Gather, probe and judge this machine (or the interpreter ``python``), as `dldoctor check`
    does with the same options; raises ValueError for an interpreter that cannot be examined."""
    from dldoctor.checks.registry import run_checks
    from dldoctor.facts import GatherError, gather
    from dldoctor.facts.host import Host
    from dldoctor.matrix import load
    from dldoctor.probes import skipped

    started = time.perf_counter()
    matrix = load()
    host = Host(command_timeout_s=min(5.0, timeout_s), nvml_timeout_s=timeout_s)
    try:
        facts = gather(
            matrix, host, python=python, interpreter_timeout_s=min(60.0, max(5.0, timeout_s))
        )
    except GatherError as exc:
        raise ValueError(str(exc)) from None
    if quick:
        facts = replace(facts, runtime=skipped("quick: no framework imported"))
    else:
        import os

        from dldoctor.probes.plan import UnknownFramework, normalise
        from dldoctor.probes.probe import ProbeOptions, run_probes

        try:
            wanted = normalise(frameworks) if frameworks else None
        except UnknownFramework as exc:
            raise ValueError(str(exc)) from None
        options = ProbeOptions(
            python=os.path.abspath(python) if python else sys.executable,
            frameworks=wanted,
            full=full,
            timeout_s=timeout_s,
        )
        facts = replace(facts, runtime=run_probes(facts, matrix, options))
    report = Report(
        command="dldoctor.check()",
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        duration_s=time.perf_counter() - started,
        facts=facts,
        outcomes=tuple(run_checks(facts, matrix)),
        redacted=redact,
    )
    return Checked(report)
