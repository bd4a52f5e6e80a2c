"""The Markdown view, for pasting into a bug ticket: verdicts and fixes first, facts summarised,
and the report itself as one compact JSON block that `triage` and `check --from` read back.

The whole view stays under compact.LIMIT_CHARS (a GitHub issue body holds 65,536) whatever the
environment. Every outside string goes through ``report.clean``'s Markdown helpers: no escape
sequence, and no way out of its table cell, its prose (no link, image or HTML of its own) or
its code fence.
"""

from __future__ import annotations

from collections.abc import Callable

from dldoctor.document.compact import LIMIT_CHARS, compact_document
from dldoctor.document.load import EMBED_INFO
from dldoctor.document.report import Report
from dldoctor.fixes.commands import shown
from dldoctor.model import Finding, Severity
from dldoctor.report.clean import md_cell, md_fence, md_text
from dldoctor.report.summary import LINES, NO_ISSUES_IN_KNOWN, framework_lines, unjudged_areas

_MARK = {Severity.OK: "✅", Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.ERROR: "❌"}
FINDINGS_CHARS = 30_000  # the findings' share; the rest is the facts' summary and the block
LINE_CHARS = 600  # one outside string shown (a title, a table cell): a hostile one is cut
_SPARE_CHARS = 400  # the block's own lines around the JSON


def render(report: Report, shown: Callable[[str], str] = lambda text: text) -> str:
    """The view; ``shown`` is applied to all of it (secrets withheld, redaction) before its size
    is measured, so what is printed is what fits."""
    out = [f"## dldoctor report ({md_text(_cut(report.created))})", ""]
    primary = report.diagnosis.primary
    if primary is not None:
        out += [f"**Diagnosis:** {md_text(primary.code)}: {md_text(_cut(primary.title))}", ""]
    out += _findings(report.findings, [LINES[a][0] for a in LINES if a in unjudged_areas(report)])
    out += _facts(report)
    head = shown("\n".join(out))
    text, abridged = compact_document(
        report, LIMIT_CHARS - len(head) - _SPARE_CHARS, _interesting(), shown
    )
    return head + "\n" + "\n".join(_embedded(text, abridged)) + "\n"


def _findings(findings: list[Finding], unjudged: list[str]) -> list[str]:
    if not findings and unjudged:  # part of the machine never seen: not "healthy"
        return [f"{NO_ISSUES_IN_KNOWN}; not judged: {', '.join(unjudged)}.", ""]
    if not findings:
        return ["No issues found.", ""]
    out: list[str] = []
    size = 0
    for shown_count, finding in enumerate(findings):
        block = _finding(finding)
        size += sum(len(line) + 1 for line in block)
        if size > FINDINGS_CHARS:
            rest = len(findings) - shown_count
            out += [f"… and {rest} more finding(s): see the full report (`--json`).", ""]
            break
        out += block
    return out


def _finding(finding: Finding) -> list[str]:
    title = _cut(finding.title)
    out = [f"### {_MARK[finding.severity]} {md_text(finding.code)}: {md_text(title)}", ""]
    if finding.explains:
        out.append("Explains:")
        out += [
            f"- {md_text(str(e.get('code')))}: {md_text(_cut(str(e.get('title'))))}"
            for e in finding.explains
        ]
        out.append("")
    for fix in finding.fixes:
        out.append(f"To fix: {md_text(_cut(fix.summary))}")
        if fix.commands:
            out += ["", *md_fence([_cut(shown(c)) for c in fix.commands], "sh")]
        out.append("")
    return out


def _facts(report: Report) -> list[str]:
    facts = report.facts
    out = ["| Area | Facts |", "|---|---|"]
    for area in LINES:  # the machine's areas (Area.PROFILE belongs to `dldoctor profile`)
        label, describe = LINES[area]
        out.append(f"| {label} | {md_cell(_cut(describe(facts)))} |")
    out.append("")
    frameworks = framework_lines(facts)
    if frameworks:
        out += ["**Frameworks**", ""]
        out += [f"- {md_text(_cut(line), line_start=True)}" for line in frameworks[:40]] + [""]
    return out


def _cut(text: str) -> str:
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


def _embedded(text: str, abridged: bool) -> list[str]:
    if not text:
        return [
            "The facts are too large to embed here: attach the report written by "
            "`dldoctor check --json report.json`.",
        ]
    what = "a selection of the distributions" if abridged else "every fact"
    return [
        f"<details><summary>The report for dldoctor ({what}; "
        "<code>dldoctor triage</code> and <code>dldoctor check --from</code> read it)</summary>",
        "",
        *md_fence([text], EMBED_INFO),
        "</details>",
    ]


def _interesting() -> Callable[[str], bool]:
    """The distributions a check can ask about: the matrix's packages and the NVIDIA wheels."""
    from dldoctor.facts.queries import canonical
    from dldoctor.matrix import load

    matrix = load()
    names = {canonical(p.name) for p in matrix.packages}
    prefixes = tuple(canonical(p) for p in matrix.nvidia_prefixes)
    names |= {"numpy", "protobuf", "pip", "setuptools", "typing-extensions", "ml-dtypes"}
    return lambda name: canonical(name) in names or canonical(name).startswith(prefixes)
