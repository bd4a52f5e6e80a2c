"""The Markdown view, for pasting into a bug ticket: findings and fixes, facts folded away."""

from __future__ import annotations

import json

from dldoctor.document.report import Report
from dldoctor.model import Severity
from dldoctor.report.summary import LINES, framework_lines

_MARK = {Severity.OK: "✅", Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.ERROR: "❌"}


def render(report: Report) -> str:
    facts = report.facts
    out = [f"## dldoctor report ({report.created})", ""]
    out += ["| Area | Facts |", "|---|---|"]
    for area in LINES:  # the machine's areas (Area.PROFILE belongs to `dldoctor profile`)
        label, describe = LINES[area]
        out.append(f"| {label} | {describe(facts).replace('|', '/')} |")
    out.append("")
    frameworks = framework_lines(facts)
    if frameworks:
        out += ["**Frameworks**", ""] + [f"- {line}" for line in frameworks] + [""]
    findings = report.findings
    if not findings:
        out += ["No issues found.", ""]
    primary = report.diagnosis.primary
    if primary is not None:
        out += [f"**Diagnosis:** {primary.code}: {primary.title}", ""]
    for finding in findings:
        out.append(f"### {_MARK[finding.severity]} {finding.code}: {finding.title}")
        out.append("")
        if finding.explains:
            out.append("Explains:")
            out += [f"- {e.get('code')}: {e.get('title')}" for e in finding.explains]
            out.append("")
        for fix in finding.fixes:
            out.append(f"To fix: {fix.summary}")
            if fix.commands:
                out += ["", "```sh", *fix.commands, "```"]
            out.append("")
    out += [
        "<details><summary>All facts (JSON)</summary>",
        "",
        "```json",
        json.dumps(facts.to_dict(), indent=2, sort_keys=True),
        "```",
        "</details>",
        "",
    ]
    return "\n".join(out)
