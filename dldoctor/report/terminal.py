"""The terminal view, in the spirit of `flutter doctor`: a glyph per area, the fix to copy.

Plain ANSI rather than rich: this view is printed on every `dldoctor check`, and importing
rich's console costs a seventh of the whole run.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, TextIO

from dldoctor.document.report import Report
from dldoctor.facts.withhold import withhold
from dldoctor.fixes.commands import shown
from dldoctor.model import Area, Finding, Severity, Status
from dldoctor.report.clean import clean
from dldoctor.report.runtime_summary import header
from dldoctor.report.summary import (
    LINES,
    NO_ISSUES_IN_KNOWN,
    details,
    framework_lines,
    unjudged_areas,
)

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "magenta": "35",
    "cyan": "36",
}
_GLYPH = {
    Severity.OK: ("✓", "green"),
    Severity.INFO: ("•", "cyan"),
    Severity.WARNING: ("!", "yellow"),
    Severity.ERROR: ("✗", "red"),
}
_CRASHED = ("☠", "magenta")
_UNJUDGED = ("?", "dim")


@dataclass
class Out:
    """Where the view goes: colour only on a terminal, wrapping only to a known width."""

    stream: TextIO
    color: bool = False
    width: int | None = None  # None: never wrap (a pipe or a file)

    def style(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        return f"\033[{';'.join(_CODES[s] for s in styles)}m{text}\033[0m"

    def line(self, text: str = "") -> None:
        self.stream.write(withhold(text) + "\n")  # secrets by shape, whatever carried them

    def wrapped(
        self, text: str, indent: int, lead: str = "", *styles: str, styled: bool = False
    ) -> None:
        """``lead`` + ``text`` at ``indent``, wrapped with a hanging indent; ``lead`` styled.

        ``text`` is cleaned (it carries outside strings) unless ``styled``: then it holds
        dldoctor's own colour codes and the caller cleaned the outside parts.
        """
        pad = " " * indent
        text = text if styled else clean(text)
        plain = f"{lead} {text}" if lead else text
        if self.width is None:
            parts = [pad + plain]
        else:
            parts = textwrap.wrap(
                plain,
                self.width,
                initial_indent=pad,
                subsequent_indent=pad + "  ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        if lead and parts:
            parts[0] = parts[0].replace(lead, self.style(lead, *styles), 1)
        for part in parts or [pad]:
            self.line(part)


def render(report: Report, out: Out, verbose: bool = False) -> None:
    facts = report.facts
    took = out.style(f"({clean(header(facts))}, {report.duration_s:.2f} s)", "dim")
    out.line(f"{out.style('dldoctor', 'bold')} — {clean(report.command)} {took}")
    out.line()
    primary = report.diagnosis.primary
    if primary is not None:  # the root cause that explains the most, before the details
        glyph, colour = _GLYPH[primary.severity]
        out.wrapped(
            f"Diagnosis: {primary.title} ({primary.code}){_explains(primary)}", 0, glyph, colour
        )
        out.line()
    by_area: dict[Area, list[Finding]] = {area: [] for area in Area}
    for finding in report.findings:
        by_area[finding.area].append(finding)
    unjudged = unjudged_areas(report)
    for area in LINES:  # the machine's areas (Area.PROFILE belongs to `dldoctor profile`)
        label, describe = LINES[area]
        findings = by_area[area]
        worst = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
        glyph, colour = _GLYPH[worst]
        if not findings and area in unjudged:
            glyph, colour = _UNJUDGED  # nothing wrong seen, and nothing judged either
        out.wrapped(f"{label}: {describe(facts)}", 0, f"[{glyph}]", colour)
        if area is Area.FRAMEWORKS:
            for line in framework_lines(facts):
                out.wrapped(f"• {line}", 4)
        if verbose:
            for line in details(area, facts):
                out.wrapped(line, 4, "·", "dim")
        for finding in findings:
            _finding(out, finding, verbose)
        if verbose:
            _skipped(out, area, report)
    for outcome in report.crashed:
        glyph, colour = _CRASHED
        out.line(
            f"{out.style(f'[{glyph}]', colour)} check {outcome.code} {outcome.name} crashed: "
            f"{clean(outcome.reason)} (a dldoctor bug; please report it)"
        )
    out.line()
    out.line(_summary(report, out, verbose, [LINES[a][0] for a in LINES if a in unjudged]))


def _explains(finding: Finding) -> str:
    count = len(finding.explains)
    return f"; it explains {count} other finding{'s' if count > 1 else ''}" if count else ""


def _finding(out: Out, finding: Finding, verbose: bool) -> None:
    glyph, colour = _GLYPH[finding.severity]
    out.wrapped(f"{finding.title} ({finding.code})", 4, glyph, colour)
    if finding.explains:
        codes: dict[str, int] = {}
        for folded in finding.explains:
            codes[str(folded.get("code"))] = codes.get(str(folded.get("code")), 0) + 1
        listed = ", ".join(f"{c} ×{n}" if n > 1 else c for c, n in codes.items())
        out.wrapped(f"Explains {len(finding.explains)} other finding(s): {listed}", 6)
        if verbose:
            for folded in finding.explains:
                out.wrapped(f"{folded.get('code')}: {folded.get('title')}", 8, "↳", "dim")
    for fix in finding.fixes:
        out.wrapped(f"To fix: {fix.summary}", 6)
        for command in fix.commands:  # never wrapped: it must paste as one line
            out.line("        " + out.style(f"$ {clean(shown(command))}", "bold"))
        if fix.notes:
            out.wrapped(fix.notes, 8)
    if verbose:
        for key, value in finding.evidence.items():
            out.wrapped(f"{key}: {_short(value)}", 6)


def _skipped(out: Out, area: Area, report: Report) -> None:
    from dldoctor.checks.registry import all_checks

    areas = {c.code: c.area for c in all_checks()}
    for outcome in report.outcomes:
        if areas.get(outcome.code) is not area:
            continue
        if outcome.status is Status.SKIPPED:
            out.wrapped(f"{outcome.code} {outcome.name} skipped: {outcome.reason}", 4, "–", "dim")
        elif outcome.reason.startswith("not judged"):  # all of it, or some items (with findings)
            out.wrapped(f"{outcome.code} {outcome.name} {outcome.reason}", 4, "?", "dim")


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(report: Report, out: Out, verbose: bool, unjudged: list[str]) -> str:
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    if not errors and not warnings and not report.crashed:
        if unjudged:  # not "healthy": part of the machine was never seen
            return out.style(NO_ISSUES_IN_KNOWN, "green") + f"; not judged: {', '.join(unjudged)}."
        return out.style("No issues found.", "green")
    parts = []
    if errors:
        parts.append(out.style(f"{errors} error{'s' if errors > 1 else ''}", "red"))
    if warnings:
        parts.append(out.style(f"{warnings} warning{'s' if warnings > 1 else ''}", "yellow"))
    if report.crashed:
        parts.append(out.style(f"{len(report.crashed)} check(s) crashed", "magenta"))
    hint = "" if verbose else " Run with -v for the evidence."
    return "Found " + ", ".join(parts) + "." + hint
