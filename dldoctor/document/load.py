"""Read a report back (`--from`): untrusted input, validated; a bad one is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dldoctor.document.schema import report_schema
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.document.validate import Invalid, Validator
from dldoctor.facts.model import Facts

SUPPORTED_MAJOR = "1"


class ReportError(ValueError):
    """The file is not a report dldoctor can read; the message names what is wrong."""


def load_report(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not text (is it a JSON report?)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ReportError(f"{path} is not a dldoctor report (no schema_version)")
    major = str(document["schema_version"]).split(".")[0]
    if major != SUPPORTED_MAJOR:
        raise ReportError(
            f"{path} uses report schema {document['schema_version']}; this dldoctor reads {SUPPORTED_MAJOR}.x"
        )
    try:
        # Partial: a fact an older report (or a paste) leaves out is unknown, not an error.
        Validator(report_schema(partial=True)).validate(document)
    except Invalid as why:
        raise ReportError(f"{path} is not a valid dldoctor report: {why}") from None
    if isinstance(document.get("facts"), dict):
        upgrade_facts(document["facts"], str(document["schema_version"]))
    return document


def facts_from_report(path: Path) -> Facts:
    return Facts.from_dict(load_report(path)["facts"])
