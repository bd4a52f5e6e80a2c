"""dldoctor's own JSON report, or the Markdown view's embedded block, pasted back."""

from __future__ import annotations

from dldoctor.document.load import EMBED_INFO, ReportError, parse_report
from dldoctor.triage.partial import Partial


def parse(text: str) -> tuple[Partial | None, str | None]:
    """(its facts, or None), and why a report-looking paste could not be read."""
    if EMBED_INFO in text:
        source = text
    else:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or '"schema_version"' not in text[start : end + 1]:
            return None, None
        source = text[start : end + 1]
    try:
        document = parse_report(source, "the pasted dldoctor report")
    except ReportError as exc:
        return None, str(exc)
    facts = document.get("facts")
    if not isinstance(facts, dict):
        return None, "the pasted dldoctor report holds no facts"
    abridged = bool(document.get("facts_abridged"))
    partial = Partial("dldoctor report", complete_listing=not abridged)
    partial.facts = {k: v for k, v in facts.items() if isinstance(v, dict)}
    partial.facts["triage"] = {"report_command": str(document.get("command") or "")[:200]}
    return partial, None
