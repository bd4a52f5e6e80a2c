"""The Markdown view, for pasting into a bug ticket: findings and fixes, facts folded away.

Every outside string goes through ``report.clean``'s Markdown helpers: no escape sequence, and
no way out of its table cell, its prose (no link, image or HTML of its own) or its code fence.
"""

from __future__ import annotations

import json

from dldoctor.document.report import Report
from dldoctor.fixes.commands import shown
from dldoctor.model import Severity
from dldoctor.report.clean import md_cell, md_fence, md_text
from dldoctor.report.summary import LINES, framework_lines

_MARK = {Severity.OK: "✅", Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.ERROR: "❌"}


def render(report: Report) -> str:
    facts = report.facts
    out = [f"## dldoctor report ({md_text(report.created)})", ""]
    out += ["| Area | Facts |", "|---|---|"]
    for area in LINES:  # the machine's areas (Area.PROFILE belongs to `dldoctor profile`)
        label, describe = LINES[area]
        out.append(f"| {label} | {md_cell(describe(facts))} |")
    out.append("")
    frameworks = framework_lines(facts)
    if frameworks:
        out += (
            ["**Frameworks**", ""]
            + [f"- {md_text(line, line_start=True)}" for line in frameworks]
            + [""]
        )
    findings = report.findings
    if not findings:
        out += ["No issues found.", ""]
    primary = report.diagnosis.primary
    if primary is not None:
        out += [f"**Diagnosis:** {md_text(primary.code)}: {md_text(primary.title)}", ""]
    for finding in findings:
        out.append(
            f"### {_MARK[finding.severity]} {md_text(finding.code)}: {md_text(finding.title)}"
        )
        out.append("")
        if finding.explains:
            out.append("Explains:")
            out += [
                f"- {md_text(str(e.get('code')))}: {md_text(str(e.get('title')))}"
                for e in finding.explains
            ]
            out.append("")
        for fix in finding.fixes:
            out.append(f"To fix: {md_text(fix.summary)}")
            if fix.commands:
                out += ["", *md_fence([shown(c) for c in fix.commands], "sh")]
            out.append("")
    facts_json = json.dumps(facts.to_dict(), indent=2, sort_keys=True)
    out += [
        "<details><summary>All facts (JSON)</summary>",
        "",
        *md_fence(facts_json.splitlines(), "json"),
        "</details>",
        "",
    ]
    return "\n".join(out)
