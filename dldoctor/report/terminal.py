"""The terminal view, in the spirit of `flutter doctor`: a glyph per area, the fix to copy."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from dldoctor.report.model import Area, Finding, Severity, Status
from dldoctor.report.report import Report
from dldoctor.report.summary import LINES, framework_lines

_GLYPH = {
    Severity.OK: ("✓", "green"),
    Severity.INFO: ("•", "cyan"),
    Severity.WARNING: ("!", "yellow"),
    Severity.ERROR: ("✗", "red"),
}
_CRASHED = ("☠", "magenta")


def render(report: Report, console: Console, verbose: bool = False) -> None:
    facts = report.facts
    console.print(
        f"[bold]dldoctor[/bold] — {escape(report.command)} "
        f"[dim](no framework imported, {report.duration_s:.2f} s)[/dim]\n"
    )
    by_area: dict[Area, list[Finding]] = {area: [] for area in Area}
    for finding in report.findings:
        by_area[finding.area].append(finding)
    crashed = {o.code for o in report.crashed}
    for area in Area:
        label, describe = LINES[area]
        findings = by_area[area]
        worst = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
        glyph, colour = _GLYPH[worst]
        console.print(
            f"[{colour}]\\[{glyph}][/{colour}] [bold]{label}[/bold]: {escape(describe(facts))}"
        )
        if area is Area.FRAMEWORKS:
            for line in framework_lines(facts):
                console.print(f"    • {escape(line)}")
        for finding in findings:
            _finding(console, finding, verbose)
        if verbose:
            _details(console, area, report)
    for outcome in report.outcomes:
        if outcome.code in crashed:
            glyph, colour = _CRASHED
            console.print(
                f"[{colour}]\\[{glyph}][/{colour}] check {outcome.code} {outcome.name} crashed: "
                f"{escape(outcome.reason)} (a dldoctor bug; please report it)"
            )
    console.print()
    console.print(_summary(report))


def _finding(console: Console, finding: Finding, verbose: bool) -> None:
    glyph, colour = _GLYPH[finding.severity]
    console.print(
        f"    [{colour}]{glyph}[/{colour}] {escape(finding.title)} [dim]({finding.code})[/dim]"
    )
    for fix in finding.fixes:
        console.print(f"      To fix: {escape(fix.summary)}")
        for command in fix.commands:
            console.print(f"        [bold]$ {escape(command)}[/bold]", soft_wrap=True)
        if fix.notes:
            console.print(f"        [dim]{escape(fix.notes)}[/dim]")
    if verbose and finding.evidence:
        for key, value in finding.evidence.items():
            console.print(f"      [dim]{escape(key)}: {escape(_short(value))}[/dim]")


def _details(console: Console, area: Area, report: Report) -> None:
    skipped = [
        o
        for o in report.outcomes
        if o.status is Status.SKIPPED and _area_of(report, o.code) is area
    ]
    for outcome in skipped:
        console.print(
            f"    [dim]– {outcome.code} {outcome.name} skipped: {escape(outcome.reason)}[/dim]"
        )


def _area_of(report: Report, code: str) -> Area | None:
    from dldoctor.checks.registry import all_checks

    return next((c.area for c in all_checks() if c.code == code), None)


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(report: Report) -> str:
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    if not errors and not warnings and not report.crashed:
        return "[green]No issues found.[/green]"
    parts = []
    if errors:
        parts.append(f"[red]{errors} error{'s' if errors > 1 else ''}[/red]")
    if warnings:
        parts.append(f"[yellow]{warnings} warning{'s' if warnings > 1 else ''}[/yellow]")
    if report.crashed:
        parts.append(f"[magenta]{len(report.crashed)} check(s) crashed[/magenta]")
    return "Found " + ", ".join(parts) + ". Run with -v for the evidence."
