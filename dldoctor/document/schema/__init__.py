"""The report's JSON Schema, shipped in the package: report.json plus one part per facts section.

The facts parts are written as the gatherers fill them; assembling them makes every named fact
(each ``properties`` entry, at any depth) also accept ``null``, which means unknown, so no part
can forget it (dldoctor/facts/known.py states the convention). ``partial=True`` also lets keys be
left out, as an older report or a paste does: that is the schema ``--from`` reads with.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PARTS = ("system", "python", "nvidia", "accelerators", "cuda", "packages", "env", "runtime")
_NULL = {"type": "null", "description": "unknown"}


@lru_cache(maxsize=2)
def report_schema(partial: bool = False) -> dict[str, Any]:
    """The whole schema as one document: the facts parts placed under ``$defs``."""
    schema: dict[str, Any] = json.loads((HERE / "report.json").read_text(encoding="utf-8"))
    for part in PARTS:
        sub = json.loads((HERE / f"facts-{part}.json").read_text(encoding="utf-8"))
        sub.pop("$schema", None)
        schema["$defs"][f"facts-{part}"] = allow_unknown(sub, partial)
    sections = schema["properties"]["facts"]["properties"]
    for name, section in sections.items():
        sections[name] = {"anyOf": [*section["anyOf"], _NULL]}
    if partial:
        schema["properties"]["facts"].pop("required", None)
    return schema


def allow_unknown(schema: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """A copy of a facts part where every named property may also be null (unknown)."""
    return _walk(copy.deepcopy(schema), partial)


def _walk(node: Any, partial: bool) -> Any:
    if isinstance(node, list):
        return [_walk(item, partial) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            node[key] = {name: _nullable(_walk(s, partial)) for name, s in value.items()}
        elif key not in ("enum", "const", "required"):
            node[key] = _walk(value, partial)
    if partial:
        node.pop("required", None)
    return node


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kinds = schema.get("type")
    if kinds is not None and not any(k in schema for k in ("anyOf", "oneOf", "const")):
        names = kinds if isinstance(kinds, list) else [kinds]
        if "null" not in names:
            schema["type"] = [*names, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if set(schema) <= {"enum", "description"}:
        if None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, _NULL]}


@lru_cache(maxsize=1)
def profile_report_schema() -> dict[str, Any]:
    """The `dldoctor profile` report's schema; its finding, fix and severity come from report.json."""
    schema: dict[str, Any] = json.loads((HERE / "profile-report.json").read_text(encoding="utf-8"))
    shared = json.loads((HERE / "report.json").read_text(encoding="utf-8"))["$defs"]
    for name in ("severity", "fix", "finding"):
        schema["$defs"][name] = shared[name]
    return schema


@lru_cache(maxsize=1)
def cluster_report_schema() -> dict[str, Any]:
    """The `check --cluster` report's schema; its finding, fix and severity come from report.json."""
    schema: dict[str, Any] = json.loads((HERE / "cluster-report.json").read_text(encoding="utf-8"))
    shared = json.loads((HERE / "report.json").read_text(encoding="utf-8"))["$defs"]
    for name in ("severity", "fix", "finding"):
        schema["$defs"][name] = shared[name]
    return schema
