"""dldoctor's own JSON report, or the Markdown view's embedded block, pasted back."""

from __future__ import annotations

import re

from dldoctor.document.load import EMBED_INFO, ReportError, parse_report
from dldoctor.triage.partial import Partial

_OPEN = re.compile(r"^[ >]*(?P<fence>`{3,}|~{3,})" + re.escape(EMBED_INFO) + r"\s*$", re.M)
_HEAD = "## dldoctor report ("


def parse(text: str) -> tuple[Partial | None, str | None, str]:
    """(its facts, or None; why a report-looking paste could not be read; the paste without the
    report, for the other parsers: dldoctor's own words and quoted facts are not a new paste)."""
    span = _span(text)
    if span is None:
        return None, None, text
    start, end = span
    rest = text[:start] + "\n" + text[end:]
    try:
        document = parse_report(text[start:end], "the pasted dldoctor report")
    except ReportError as exc:  # not a report after all: the other parsers read all of it
        return None, str(exc), text
    facts = document.get("facts")
    if not isinstance(facts, dict):
        return None, "the pasted dldoctor report holds no facts", rest
    abridged = bool(document.get("facts_abridged"))
    partial = Partial("dldoctor report", complete_listing=not abridged)
    partial.facts = {k: v for k, v in facts.items() if isinstance(v, dict)}
    partial.facts["triage"] = {"report_command": str(document.get("command") or "")[:200]}
    return partial, None, rest


def _span(text: str) -> tuple[int, int] | None:
    """Where the report is: the Markdown view from its heading to its block's closing fence, or
    the JSON object that holds "schema_version"."""
    opened = _OPEN.search(text)
    if opened is not None:
        fence = opened.group("fence")
        close = re.compile(r"^[ >]*" + re.escape(fence) + r"\s*$", re.M).search(text, opened.end())
        end = close.end() if close else len(text)
        head = text.rfind(_HEAD, 0, opened.start())
        return (head if head >= 0 else opened.start()), end
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or '"schema_version"' not in text[start : end + 1]:
        return None
    return start, end + 1
