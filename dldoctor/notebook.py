"""`import dldoctor; dldoctor.check()` in a notebook: the same pipeline as `dldoctor check`,
shown inline (HTML in Jupyter, Colab and VS Code; Markdown or text elsewhere)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dldoctor.document.report import Report
from dldoctor.model import Finding

if TYPE_CHECKING:
    from dldoctor.facts.model import Facts
    from dldoctor.probes.probe import ProbeOptions, Running


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
    options = None if quick else _probe_options(python, full, frameworks, timeout_s)
    host = Host(command_timeout_s=min(5.0, timeout_s), nvml_timeout_s=timeout_s)
    running: list[Running] = []

    def start(early: Facts) -> None:  # the children start while the static facts are gathered
        from dldoctor.probes.probe import start_probes

        assert options is not None
        running.append(start_probes(early, matrix, options))

    try:
        facts = gather(
            matrix,
            host,
            python=python,
            interpreter_timeout_s=min(60.0, max(5.0, timeout_s)),
            on_early=start if options is not None else None,
        )
    except BaseException as exc:  # a gatherer that failed, Ctrl-C: the children are killed first
        for probes in running:
            probes.cancel()
        if isinstance(exc, GatherError):
            raise ValueError(str(exc)) from None
        raise
    if options is None:
        runtime = skipped("quick: no framework imported")
    else:
        runtime = running[0].finish() if running else skipped("the interpreter gave no facts")
    facts = replace(facts, runtime=runtime)
    report = Report(
        command="dldoctor.check()",
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        duration_s=time.perf_counter() - started,
        facts=facts,
        outcomes=tuple(run_checks(facts, matrix)),
        redacted=redact,
    )
    return Checked(report)


def _probe_options(
    python: str | None, full: bool, frameworks: list[str] | None, timeout_s: float
) -> ProbeOptions:
    """What to probe, as `dldoctor check` would (ValueError for an unknown framework)."""
    import os

    from dldoctor.probes.plan import UnknownFramework, normalise
    from dldoctor.probes.probe import ProbeOptions

    try:
        wanted = normalise(frameworks) if frameworks else None
    except UnknownFramework as exc:
        raise ValueError(str(exc)) from None
    return ProbeOptions(
        python=os.path.abspath(python) if python else sys.executable,
        frameworks=wanted,
        full=full,
        timeout_s=timeout_s,
    )
