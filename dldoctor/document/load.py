"""Read a report back (`--from`): untrusted input, validated; a bad one is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dldoctor.document.schema import report_schema
from dldoctor.document.validate import Invalid, Validator
from dldoctor.facts.model import Facts

SUPPORTED_MAJOR = "1"
MAX_REPORT_BYTES = 16 << 20  # a real report is well under 1 MiB; /dev/zero is endless
MAX_DEPTH = 64  # a real report nests 8 deep; the validator recurses once per level


class ReportError(ValueError):
    """The file is not a report dldoctor can read; the message names what is wrong."""


def load_report(path: Path) -> dict[str, Any]:
    """The report at ``path``, read to MAX_REPORT_BYTES, nested at most MAX_DEPTH, validated."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(
            f"{path} is larger than {MAX_REPORT_BYTES >> 20} MiB: not a dldoctor report"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not text (is it a JSON report?)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:  # nested past Python's recursion limit: json gives up first
        raise ReportError(_too_deep(path)) from None
    if _depth(document) > MAX_DEPTH:
        raise ReportError(_too_deep(path))
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ReportError(f"{path} is not a dldoctor report (no schema_version)")
    major = str(document["schema_version"]).split(".")[0]
    if major != SUPPORTED_MAJOR:
        raise ReportError(
            f"{path} uses report schema {document['schema_version']}; this dldoctor reads {SUPPORTED_MAJOR}.x"
        )
    try:
        Validator(report_schema()).validate(document)
    except Invalid as why:
        raise ReportError(f"{path} is not a valid dldoctor report: {why}") from None
    return document


def _too_deep(path: Path) -> str:
    return f"{path} nests deeper than {MAX_DEPTH} levels: not a dldoctor report"


def _depth(document: Any) -> int:
    """How deep ``document`` nests (a scalar is 0), without recursing."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest


def facts_from_report(path: Path) -> Facts:
    return Facts.from_dict(load_report(path)["facts"])
