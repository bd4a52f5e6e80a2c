"""The report's JSON Schema, shipped in the package: report.json plus one part per facts section."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PARTS = ("system", "python", "nvidia", "accelerators", "cuda", "packages", "env", "runtime")


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The whole schema as one document: the facts parts placed under ``$defs``."""
    schema: dict[str, Any] = json.loads((HERE / "report.json").read_text(encoding="utf-8"))
    for part in PARTS:
        sub = json.loads((HERE / f"facts-{part}.json").read_text(encoding="utf-8"))
        sub.pop("$schema", None)
        schema["$defs"][f"facts-{part}"] = sub
    return schema


@lru_cache(maxsize=1)
def profile_report_schema() -> dict[str, Any]:
    """The `dldoctor profile` report's schema; its finding, fix and severity come from report.json."""
    schema: dict[str, Any] = json.loads((HERE / "profile-report.json").read_text(encoding="utf-8"))
    shared = json.loads((HERE / "report.json").read_text(encoding="utf-8"))["$defs"]
    for name in ("severity", "fix", "finding"):
        schema["$defs"][name] = shared[name]
    return schema
