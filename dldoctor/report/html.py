"""The HTML view, for notebooks (Jupyter, Colab, VS Code): the Markdown view's order, escaped.

Every outside string is cleaned (``report.clean``) and HTML-escaped: a package name or a driver
string cannot add markup, a script or a link to the notebook.
"""

from __future__ import annotations

from html import escape

from dldoctor.document.report import Report
from dldoctor.fixes.commands import shown
from dldoctor.model import Severity
from dldoctor.report.clean import clean
from dldoctor.report.summary import LINES, framework_lines

_MARK = {Severity.OK: "✅", Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.ERROR: "❌"}


def _h(text: object) -> str:
    return escape(clean(text), quote=True)


def render(report: Report) -> str:
    out = ['<div class="dldoctor-report">', f"<h3>dldoctor report ({_h(report.created)})</h3>"]
    primary = report.diagnosis.primary
    if primary is not None:
        out.append(f"<p><b>Diagnosis:</b> {_h(primary.code)}: {_h(primary.title)}</p>")
    if not report.findings:
        out.append("<p>✅ No issues found.</p>")
    for finding in report.findings:
        out.append(f"<h4>{_MARK[finding.severity]} {_h(finding.code)}: {_h(finding.title)}</h4>")
        if finding.explains:
            items = "".join(
                f"<li>{_h(e.get('code'))}: {_h(e.get('title'))}</li>" for e in finding.explains
            )
            out.append(f"<p>Explains:</p><ul>{items}</ul>")
        for fix in finding.fixes:
            out.append(f"<p>To fix: {_h(fix.summary)}</p>")
            if fix.commands:
                commands = "\n".join(_h(shown(c)) for c in fix.commands)
                out.append(f"<pre><code>{commands}</code></pre>")
    rows = "".join(
        f"<tr><th>{_h(label)}</th><td>{_h(describe(report.facts))}</td></tr>"
        for label, describe in LINES.values()
    )
    out.append(f"<table>{rows}</table>")
    frameworks = framework_lines(report.facts)
    if frameworks:
        out.append("<ul>" + "".join(f"<li>{_h(line)}</li>" for line in frameworks) + "</ul>")
    out.append("</div>")
    return "\n".join(out)
