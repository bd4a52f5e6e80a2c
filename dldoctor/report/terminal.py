"""The terminal view, in the spirit of `flutter doctor`: a glyph per area, the fix to copy."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding

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
    console.print(_summary(report, verbose))


def _indented(console: Console, markup: str, indent: int) -> None:
    """Print text wrapped to the terminal with a hanging indent (unwrapped when not a terminal)."""
    console.print(Padding(markup, (0, 0, 0, indent), expand=False))


def _finding(console: Console, finding: Finding, verbose: bool) -> None:
    glyph, colour = _GLYPH[finding.severity]
    title = f"{escape(finding.title)} [dim]({finding.code})[/dim]"
    _indented(console, f"[{colour}]{glyph}[/{colour}] {title}", 4)
    for fix in finding.fixes:
        _indented(console, f"To fix: {escape(fix.summary)}", 6)
        for command in fix.commands:  # never wrapped: it must paste as one line
            console.print(f"        [bold]$ {escape(command)}[/bold]", soft_wrap=True)
        if fix.notes:
            _indented(console, f"[dim]{escape(fix.notes)}[/dim]", 8)
    if verbose and finding.evidence:
        for key, value in finding.evidence.items():
            _indented(console, f"[dim]{escape(key)}: {escape(_short(value))}[/dim]", 6)


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


def _summary(report: Report, verbose: bool) -> str:
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
    hint = "" if verbose else " Run with -v for the evidence."
    return "Found " + ", ".join(parts) + "." + hint
