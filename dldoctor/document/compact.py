"""The report as one compact JSON line that fits in a ticket: what the Markdown view embeds.

A GitHub issue body holds 65,536 characters; the Markdown view stays under LIMIT_CHARS whatever
the environment. The embedded document keeps every fact the checks read, as long as it fits;
past the budget it sheds, in order, what costs most and judges least: each distribution's raw
requirements and top-level names (`pip check`'s verdict and the NVIDIA pins are kept as facts),
the library map (then unknown), probe output beyond its last lines, and then the distributions
no check asks about (``facts_abridged``: the list is then a selection, and `triage` reads it so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from dldoctor.document.report import Report, envelope

JSON = dict[str, Any]
LIMIT_CHARS = 60_000  # the whole Markdown view; GitHub's issue body limit is 65,536
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
OUTPUT_LINES = 12  # probe output lines kept per text when shedding


def dumps(document: JSON) -> str:
    # ASCII only: no character the Markdown cleaning would have to replace (C1, bidi, U+2028)
    return json.dumps(document, separators=(",", ":"))


def compact_document(
    report: Report,
    budget_chars: int,
    keep: Callable[[str], bool],
    shown: Callable[[str], str] = lambda text: text,
) -> tuple[str, bool]:
    """(the report as one JSON line within ``budget_chars`` once ``shown`` (secrets withheld,
    redaction) has been applied to it, or "" when even the least does not fit; whether the
    distributions were cut to those ``keep`` names)."""
    document: JSON = {
        **envelope(report.command, report.created, report.duration_s, report.redacted),
        "summary": report.to_summary(),
        "facts_abridged": False,
        "facts": report.facts.to_dict(),
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "area": f.area.value,
                "title": f.title,
                "evidence": {},  # shown above it in the Markdown; the facts re-judge it
                "fixes": [],
            }
            for f in report.findings
        ],
        "checks": [],
    }
    for shed in (_nothing, _requirements, _library_map, _outputs, lambda d: _selection(d, keep)):
        shed(document)
        text = shown(dumps(document))
        if len(text) <= budget_chars:
            return text, bool(document["facts_abridged"])
    return "", True


def _nothing(document: JSON) -> None:
    return None


def _packages(document: JSON) -> JSON:
    packages = document["facts"].get("packages")
    return packages if isinstance(packages, dict) else {}


def _requirements(document: JSON) -> None:
    for dist in _packages(document).get("distributions") or []:
        if isinstance(dist, dict):
            dist.pop("requires", None)
            dist.pop("top_level", None)
            if dist.get("metadata_error") is None:
                dist.pop("metadata_error", None)


def _library_map(document: JSON) -> None:
    cuda = document["facts"].get("cuda")
    if isinstance(cuda, dict) and "library_map" in cuda:
        cuda["library_map"] = None  # unknown when read back: the checks that need it say so


def _outputs(document: JSON) -> None:
    def cut(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: cut(v) for k, v in node.items()}
        if isinstance(node, list):
            if len(node) > OUTPUT_LINES and all(isinstance(x, str) for x in node):
                return node[-OUTPUT_LINES:]
            return [cut(v) for v in node]
        if isinstance(node, str) and len(node) > 2000:
            return node[:2000] + "…"
        return node

    document["facts"]["runtime"] = cut(document["facts"].get("runtime") or {})


def _selection(document: JSON, keep: Callable[[str], bool]) -> None:
    packages = _packages(document)
    dists = packages.get("distributions")
    if not isinstance(dists, list):
        return
    named: set[str] = set()
    for unmet in packages.get("unsatisfied") or []:  # both sides of every unmet requirement
        if isinstance(unmet, dict):
            named.add(str(unmet.get("distribution", "")).lower())
            wanted = _NAME.match(str(unmet.get("requirement", "")))
            named.add(wanted.group(1).lower() if wanted else "")
    named |= {str(k).lower() for k in (packages.get("nvidia_pins") or {})}
    named |= {
        str(d.get("name", "")).lower()
        for d in packages.get("duplicates") or []
        if isinstance(d, dict)
    }
    packages["distributions"] = [
        d
        for d in dists
        if isinstance(d, dict)
        and (keep(str(d.get("name") or "")) or str(d.get("name", "")).lower() in named)
    ]
    document["facts_abridged"] = True
