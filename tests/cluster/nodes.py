"""Recorded facts of simulated nodes: a healthy H100 node with torch 2.7.1+cu128, and variants."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

from dldoctor.checks.registry import run_checks
from dldoctor.cluster.digest import payload
from dldoctor.document.report import Report
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from tests.cases import corpus

HEALTHY = corpus.HERE / "healthy-h100-torch-cu128.json"
JSON = dict[str, Any]


def facts(matrix: Matrix, cpu_torch: bool = False, env: dict[str, str] | None = None) -> JSON:
    """The healthy node's facts; ``cpu_torch``: its torch is the CPU-only build of 2.7.1."""
    case = corpus.load_case(HEALTHY)
    recorded = copy.deepcopy(case.facts)
    if cpu_torch:
        packages = recorded["packages"]
        packages["distributions"] = [
            {"name": "torch", "version": "2.7.1+cpu"} if d["name"] == "torch" else d
            for d in packages["distributions"]
        ]
        packages["frameworks"]["torch"]["build"].update(
            __version__="2.7.1+cpu", cuda=False, hip=False
        )
        info = recorded["runtime"]["frameworks"]["torch"]["info"]
        info.update(version="2.7.1+cpu", cuda_version=None, cuda_built=False, cuda_available=False)
        recorded["runtime"]["frameworks"]["torch"]["devices"] = [{"id": "cpu", "kind": "cpu"}]
        recorded["runtime"]["frameworks"]["torch"]["smoke"] = [
            s for s in recorded["runtime"]["frameworks"]["torch"]["smoke"] if s["device"] == "cpu"
        ]
    if env:
        recorded["env"] = {"variables": dict(env), "withheld": []}
    return corpus.facts_of(dataclasses.replace(case, facts=recorded), matrix)


def node_payload(matrix: Matrix, node: int, host: str, rank: int, recorded: JSON) -> str:
    """What that node's gatherer would put in the store, judged by the real checks."""
    snapshot = Facts.from_dict(recorded)
    report = Report("dldoctor check", "t", 0.0, snapshot, tuple(run_checks(snapshot, matrix)))
    return payload(node, host, rank, snapshot, report.findings, None).decode()


def write_report(path: Path, recorded: JSON) -> Path:
    """A report file as `--from` reads it, holding these facts."""
    path.write_text(
        json.dumps(
            {
                "schema_version": "1.2",
                "dldoctor_version": "0",
                "command": "dldoctor check",
                "created": "2026-01-01T00:00:00+00:00",
                "duration_s": 1.0,
                "redacted": False,
                "summary": {"errors": 0, "warnings": 0, "infos": 0, "checks_crashed": 0},
                "facts": recorded,
                "findings": [],
                "checks": [],
            }
        ),
        encoding="utf-8",
    )
    return path
