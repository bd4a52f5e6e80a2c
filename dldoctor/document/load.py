"""Read a report back (`--from`): untrusted input, validated; a bad one is one clear line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dldoctor.document.schema import report_schema
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.document.validate import Invalid, Validator
from dldoctor.facts.model import Facts

SUPPORTED_MAJOR = "1"
_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "an array",
    dict: "an object",
}
MAX_REPORT_BYTES = 16 << 20  # a real report is well under 1 MiB; /dev/zero is endless
MAX_DEPTH = 64  # a real report nests 8 deep; the validator recurses once per level


# The info string of the Markdown view's fenced block that holds the report as one JSON line.
EMBED_INFO = "json dldoctor-report"
_EMBED_OPEN = re.compile(r"^[ >]*(?P<fence>`{3,}|~{3,})" + re.escape(EMBED_INFO) + r"\s*$", re.M)


def embedded_json(text: str) -> str | None:
    """The JSON inside the Markdown view's ```json dldoctor-report block, or None without one."""
    opened = _EMBED_OPEN.search(text)
    if opened is None:
        return None
    fence = opened.group("fence")
    body = []
    for line in text[opened.end() :].splitlines()[1:]:
        bare = re.sub(r"^[ >]*", "", line)  # a quoted reply keeps its "> " marks
        if bare.startswith(fence):
            break
        body.append(bare)
    return "\n".join(body)


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
    return parse_report(text, str(path))


def parse_report(text: str, name: str) -> dict[str, Any]:
    """The report in ``text`` (JSON, or the Markdown view's embedded block), validated.

    ``name`` is how messages call the input (a path, "the paste").
    """
    path = name
    embedded = embedded_json(text) if not text.lstrip().startswith("{") else None
    if embedded is not None:
        text = embedded
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # json's own words may end in "at" ("Unterminated string starting at"): not twice.
        what = exc.msg[: -len(" at")] if exc.msg.endswith(" at") else exc.msg
        raise ReportError(
            f"{path} is not JSON: {what} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:  # nested past Python's recursion limit: json gives up first
        raise ReportError(_too_deep(path)) from None
    if _depth(document) > MAX_DEPTH:
        raise ReportError(_too_deep(path))
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ReportError(f"{path} is not a dldoctor report (no schema_version)")
    version = document["schema_version"]
    if not isinstance(version, str):  # shown as JSON names it, never as a Python repr
        kind = _JSON_TYPES.get(type(version), "a JSON value")
        raise ReportError(f"{path} is not a dldoctor report: its schema_version is {kind}")
    if version.split(".")[0] != SUPPORTED_MAJOR:
        shown = json.dumps(version[:40])  # quoted and escaped: the file is untrusted
        raise ReportError(
            f"{path} uses report schema {shown}; this dldoctor reads {SUPPORTED_MAJOR}.x"
        )
    try:
        # Partial: a fact an older report (or a paste) leaves out is unknown, not an error.
        Validator(report_schema(partial=True)).validate(document)
    except Invalid as why:
        raise ReportError(f"{path} is not a valid dldoctor report: {why}") from None
    if isinstance(document.get("facts"), dict):
        upgrade_facts(document["facts"], str(document["schema_version"]))
    return document


def _too_deep(path: object) -> str:
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
    """The report's facts, secrets by shape withheld (a report written before that rule)."""
    from dldoctor.facts.withhold import withhold_all

    return Facts.from_dict(withhold_all(load_report(path)["facts"]))
